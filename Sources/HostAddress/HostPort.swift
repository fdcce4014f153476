/// `host[:port]`, read by the one rule every address in Usher's settings and URLs follows: a name or IPv4
/// address, or an IPv6 literal in brackets (`[::1]:8080`). `USHER_LISTEN`, `REDIS_URL`, `S3_ENDPOINT`,
/// `MIRROR_ALLOWED_HOSTS` and the mirror's source URLs all read their address here, so an IPv6 literal or a bad
/// port is understood (or refused) alike everywhere.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    /// The host without brackets; never empty.
    public let host: String
    /// 0…65535 when written; callers that cannot use 0 refuse it.
    public let port: Int?
    /// The host was written in brackets (or, when allowed, bare with several colons).
    public let isIPv6Literal: Bool

    /// nil when malformed: no host, an unclosed bracket, anything after `]` but `:port`, a port that is not a
    /// number in 0…65535. With `allowingBareIPv6`, text with two or more colons and no brackets is an IPv6 literal
    /// without a port (allow-lists write `::1`); otherwise it is refused.
    public init?(_ text: some StringProtocol, allowingBareIPv6: Bool = false) {
        let text = Substring(text)
        var port: Int?
        let host: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Self.port(after.dropFirst()) else { return nil }
                port = value
            }
            isIPv6Literal = true
        } else if text.filter({ $0 == ":" }).count > 1 {
            guard allowingBareIPv6 else { return nil }
            host = text
            isIPv6Literal = true
        } else if let colon = text.firstIndex(of: ":") {
            guard let value = Self.port(text[text.index(after: colon)...]) else { return nil }
            port = value
            host = text[..<colon]
            isIPv6Literal = false
        } else {
            host = text
            isIPv6Literal = false
        }
        guard !host.isEmpty, !host.contains("["), !host.contains("]") else { return nil }
        self.host = String(host)
        self.port = port
    }

    /// Digits only (no sign, no spaces), 0…65535.
    private static func port(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let value = Int(text), value <= 65535
        else { return nil }
        return value
    }

    /// The host as a URL or a `Host` header writes it: an IPv6 literal in brackets.
    public var hostForURL: String { isIPv6Literal ? "[\(host)]" : host }

    public var description: String { hostForURL + (port.map { ":\($0)" } ?? "") }
}
