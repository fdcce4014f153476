public import Foundation

/// Decides which URLs the mirror may fetch: https (or http to 127.0.0.0/8 in test mode), a host on the
/// allow-list, and never an address in loopback, private or link-local ranges in production mode.
public struct SourcePolicy: Sendable {
    public let configuration: MirrorConfiguration

    public init(configuration: MirrorConfiguration) { self.configuration = configuration }

    public struct Target: Sendable {
        public let url: URL
        public let host: String
        public let port: Int
    }

    /// The parsed URL, or a permanent `sourceNotAllowed` error naming why.
    public func check(_ text: String) throws(MirrorError) -> Target {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased(), !host.isEmpty, let url = components.url
        else {
            throw MirrorError(.sourceNotAllowed, permanent: true, "not an absolute URL")
        }
        let bareHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        let isLoopback = Self.isLoopbackV4(bareHost)
        switch scheme {
        case "https":
            break
        case "http" where configuration.allowInsecureLocalhost && isLoopback:
            break
        default:
            throw MirrorError(.sourceNotAllowed, permanent: true, "scheme \(scheme) is not allowed (https only)")
        }
        guard components.user == nil, components.password == nil else {
            throw MirrorError(.sourceNotAllowed, permanent: true, "URLs with credentials are not allowed")
        }
        guard configuration.allowedHosts.contains(where: { $0.matches(host: bareHost, port: port) }) else {
            throw MirrorError(.sourceNotAllowed, permanent: true, "host \(bareHost) is not in MIRROR_ALLOWED_HOSTS")
        }
        if Self.isInternal(bareHost) && !(configuration.allowInsecureLocalhost && isLoopback) {
            throw MirrorError(.sourceNotAllowed, permanent: true, "address \(bareHost) is loopback, private or link-local")
        }
        return Target(url: url, host: bareHost, port: port)
    }

    static func ipv4(_ host: String) -> [UInt8]? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let octets = parts.compactMap { UInt8($0) }
        return octets.count == 4 ? octets : nil
    }

    static func isLoopbackV4(_ host: String) -> Bool { ipv4(host)?.first == 127 }

    /// Loopback, RFC 1918, link-local (cloud metadata lives at 169.254.169.254), CGNAT, unspecified, and the
    /// IPv6 equivalents; `localhost` names too.
    static func isInternal(_ host: String) -> Bool {
        if host == "localhost" || host.hasSuffix(".localhost") { return true }
        if let o = ipv4(host) {
            return o[0] == 127 || o[0] == 10 || o[0] == 0 || (o[0] == 172 && (16...31).contains(o[1])) || (o[0] == 192 && o[1] == 168)
                || (o[0] == 169 && o[1] == 254) || (o[0] == 100 && (64...127).contains(o[1]))
        }
        if host.contains(":") {
            let lower = host.lowercased()
            return lower == "::1" || lower == "::" || lower.hasPrefix("fe8") || lower.hasPrefix("fe9") || lower.hasPrefix("fea")
                || lower.hasPrefix("feb") || lower.hasPrefix("fc") || lower.hasPrefix("fd") || lower.hasPrefix("::ffff:")
        }
        return false
    }
}
