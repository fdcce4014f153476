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
        guard let address = HostPort(authority), address.port != 0 else { return nil }
        if address.isIPv6Literal {
            guard IPAddress(address.host)?.isV6 == true else { return nil }
        } else {
            let allowed = address.host.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            }
            guard allowed, !address.host.hasPrefix("."), !address.host.contains("..") else { return nil }
        }
        self.scheme = scheme
        self.host = address.host
        self.port = address.port ?? (scheme == "https" ? 443 : 80)
    }
}
