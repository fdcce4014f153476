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
        var port: Int?
        // A bare IPv6 literal (`::1`, `2001:db8::10`) has several colons and no port; with a port it is bracketed.
        let bareIPv6 = !rest.hasPrefix("[") && rest.filter { $0 == ":" }.count > 1
        if !bareIPv6, let colon = rest.lastIndex(of: ":"), !rest.hasPrefix("[") || rest[..<colon].hasSuffix("]") {
            guard let value = Int(rest[rest.index(after: colon)...]), (1...65535).contains(value) else { return nil }
            port = value
            rest = rest[..<colon]
        }
        if rest.hasPrefix("[") && rest.hasSuffix("]") { rest = rest.dropFirst().dropLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("*") else { return nil }
        host = String(rest)
        self.port = port
    }

    /// `host` is lowercase; `port` is the URL's effective port.
    public func matches(host candidate: String, port candidatePort: Int) -> Bool {
        if let port, port != candidatePort { return false }
        if wildcard { return candidate.hasSuffix("." + host) }
        return candidate == host
    }

    public var description: String { (wildcard ? "*." : "") + host + (port.map { ":\($0)" } ?? "") }
}

/// The scheme, host and port of an absolute http(s) URL, read strictly: no userinfo, no percent sign, and a host
/// that is an IP literal or a name of letters, digits, `-` and `.` only. Anything else is nil, so a host that one
/// URL parser reads differently from another (`a.fal.media%00.evil`, `fal.media@evil`, `[::1%25lo]`) is refused
/// before it is compared with an allow-list.
public struct URLAuthority: Sendable, Equatable {
    public let scheme: String
    /// Lowercase; an IPv6 literal without its brackets.
    public let host: String
    /// The URL's port, or the scheme's default.
    public let port: Int

    public init?(_ url: String) {
        let lower = url.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") {
            scheme = "https"
        } else if lower.hasPrefix("http://") {
            scheme = "http"
        } else {
            return nil
        }
        let rest = lower.utf8.dropFirst(scheme.utf8.count + 3)
        let end = rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? rest.endIndex
        let authority = Substring(rest[rest.startIndex..<end])
        guard !authority.isEmpty, !authority.contains("@"), !authority.contains("%") else { return nil }
        var hostPart = authority
        var port = scheme == "https" ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()), (1...65535).contains(value) else { return nil }
                port = value
            }
            guard IPAddress(String(hostPart))?.isV6 == true else { return nil }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                guard let value = Int(authority[authority.index(after: colon)...]), (1...65535).contains(value) else { return nil }
                port = value
                hostPart = authority[..<colon]
            }
            let allowed = hostPart.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            }
            guard !hostPart.isEmpty, allowed, !hostPart.hasPrefix("."), !hostPart.contains("..") else { return nil }
        }
        self.scheme = scheme
        self.host = String(hostPart)
        self.port = port
    }
}
