public import Delivery
public import Foundation
import HostAddress
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decides which URLs the mirror may fetch: https (or http to 127.0.0.0/8 in test mode), a host on the allow-list
/// read strictly (`URLAuthority`: no userinfo, no `%`, only letters, digits, `-` and `.` or an IP literal), and
/// never an internal address (`IPAddress.isInternal`) — neither as a literal nor as any address the name resolves
/// to, checked just before each connection (DNS rebinding: a name on the allow-list that resolves to 127.0.0.1 or
/// 169.254.169.254 is refused).
///
/// What remains: the HTTP client resolves the name again when it connects, so a resolver that answers differently
/// within those milliseconds could still steer it. Pinning the checked address would need a resolver hook that
/// AsyncHTTPClient does not offer; the allow-list (fal's own domains by default) is the first line.
public struct SourcePolicy: Sendable {
    public let configuration: MirrorConfiguration

    public init(configuration: MirrorConfiguration) { self.configuration = configuration }

    public struct Target: Sendable {
        public let url: URL
        public let host: String
        public let port: Int
        /// Test mode's http to a loopback literal: not resolved or checked further.
        let insecureLoopback: Bool
    }

    /// The parsed URL, or a permanent `sourceNotAllowed` error naming why. No I/O: `resolve` checks the addresses.
    public func check(_ text: String) throws(MirrorError) -> Target {
        guard let authority = URLAuthority(text) else {
            throw MirrorError(
                .sourceNotAllowed, permanent: true, "not an http(s) URL with a plain host (no credentials, no %, letters, digits, - and . only)")
        }
        guard let components = URLComponents(string: text), let url = components.url,
            components.host.map({ $0.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]")) }) == authority.host,
            components.user == nil, components.password == nil
        else {
            throw MirrorError(.sourceNotAllowed, permanent: true, "not an absolute URL")
        }
        let literal = IPAddress(authority.host)
        let isLoopback = literal.map { !$0.isV6 && $0.bytes[0] == 127 } ?? false
        let insecureLoopback = configuration.allowInsecureLocalhost && isLoopback
        switch authority.scheme {
        case "https":
            break
        case "http" where insecureLoopback:
            break
        default:
            throw MirrorError(.sourceNotAllowed, permanent: true, "scheme \(authority.scheme) is not allowed (https only)")
        }
        guard configuration.allowedHosts.contains(where: { $0.matches(host: authority.host, port: authority.port) }) else {
            throw MirrorError(.sourceNotAllowed, permanent: true, "host \(authority.host) is not in MIRROR_ALLOWED_HOSTS")
        }
        if authority.host == "localhost" || authority.host.hasSuffix(".localhost") {
            throw MirrorError(.sourceNotAllowed, permanent: true, "host \(authority.host) is loopback")
        }
        if let literal, literal.isInternal, !insecureLoopback {
            throw MirrorError(.sourceNotAllowed, permanent: true, "address \(authority.host) is loopback, private or link-local")
        }
        return Target(url: url, host: authority.host, port: authority.port, insecureLoopback: insecureLoopback)
    }

    /// Resolves the target's host (off the event loops) and refuses it when any of its addresses is internal.
    public func resolve(_ target: Target) async throws(MirrorError) {
        if target.insecureLoopback || IPAddress(target.host) != nil { return }
        let host = target.host
        let addresses: [IPAddress]
        do {
            addresses = try await NIOThreadPool.singleton.runIfActive { try Self.addresses(of: host) }
        } catch let error as MirrorError {
            throw error
        } catch {
            throw MirrorError(.sourceUnavailable, permanent: false, "cannot resolve \(host): \(error)")
        }
        if let inside = addresses.first(where: \.isInternal) {
            throw MirrorError(.sourceNotAllowed, permanent: true, "host \(host) resolves to \(inside), an internal address")
        }
    }

    /// Every address `getaddrinfo` gives for `host` (blocking).
    static func addresses(of host: String) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list else {
            throw MirrorError(.sourceUnavailable, permanent: false, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        var result: [IPAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                switch Int32(address.pointee.sa_family) {
                case AF_INET:
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                        var raw = v4.pointee.sin_addr
                        if let ip = IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }) { result.append(ip) }
                    }
                case AF_INET6:
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        var raw = v6.pointee.sin6_addr
                        if let ip = IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }) { result.append(ip) }
                    }
                default: break
                }
            }
            cursor = entry.pointee.ai_next
        }
        guard !result.isEmpty else { throw MirrorError(.sourceUnavailable, permanent: false, "\(host) has no address") }
        return result
    }
}
