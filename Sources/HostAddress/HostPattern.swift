/// An allow-list entry: `fal.media`, `*.fal.media`, `127.0.0.1:8443`, `::1`, `[::1]:8443`.
public struct HostPattern: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let wildcard: Bool
    public let port: Int?

    public init?(_ text: String) {
        var rest = Substring(text.lowercased())
        guard !rest.isEmpty else { return nil }
        wildcard = rest.hasPrefix("*.")
        if wildcard { rest = rest.dropFirst(2) }
        // A bare IPv6 literal (`::1`, `2001:db8::10`) has no port; with a port it is bracketed.
        guard let address = HostPort(rest, allowingBareIPv6: true), address.port != 0,
            !address.host.contains("/"), !address.host.contains("*")
        else { return nil }
        host = address.host
        port = address.port
    }

    /// `host` is lowercase; `port` is the URL's effective port.
    public func matches(host candidate: String, port candidatePort: Int) -> Bool {
        if let port, port != candidatePort { return false }
        if wildcard { return candidate.hasSuffix("." + host) }
        return candidate == host
    }

    public var description: String { (wildcard ? "*." : "") + host + (port.map { ":\($0)" } ?? "") }
}
