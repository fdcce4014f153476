#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as bytes, with the one question the mirror and the origin fallback ask of it: may
/// Usher connect there on a URL that came from outside? Internal addresses (loopback, private, link-local, cloud
/// metadata, CGNAT, multicast, reserved) are refused, including when an IPv6 address carries one of them
/// (`::ffff:127.0.0.1`, `::127.0.0.1`, `64:ff9b::127.0.0.1`, `2002:7f00:1::`).
public struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    /// 4 or 16 bytes, network order.
    public let bytes: [UInt8]

    public var isV6: Bool { bytes.count == 16 }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// A dotted-quad IPv4 or an IPv6 literal (no brackets, no zone), as `inet_pton` reads them.
    public init?(_ text: String) {
        var raw = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, text, &raw) == 1 {
            bytes = Array(raw.prefix(4))
            return
        }
        if inet_pton(AF_INET6, text, &raw) == 1 {
            bytes = raw
            return
        }
        return nil
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: 64)
        let family = isV6 ? AF_INET6 : AF_INET
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Not to be reached from a URL that came from outside.
    public var isInternal: Bool {
        if !isV6 { return Self.isInternalV4(bytes[0], bytes[1], bytes[2], bytes[3]) }
        let b = bytes
        let firstTen = b[0..<10].allSatisfy { $0 == 0 }
        // ::, ::1 and IPv4-compatible ::a.b.c.d (deprecated; no public use): all refused.
        if firstTen && b[10] == 0 && b[11] == 0 { return true }
        // IPv4-mapped ::ffff:a.b.c.d: the IPv4 address decides.
        if firstTen && b[10] == 0xFF && b[11] == 0xFF { return Self.isInternalV4(b[12], b[13], b[14], b[15]) }
        // NAT64 64:ff9b::/96 (and the local-use 64:ff9b:1::/48): the embedded IPv4 address decides.
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B {
            if b[4...11].allSatisfy({ $0 == 0 }) { return Self.isInternalV4(b[12], b[13], b[14], b[15]) }
            if b[4] == 0 && b[5] == 1 { return true }
        }
        // 6to4 2002::/16 carries an IPv4 address in bytes 2–5.
        if b[0] == 0x20 && b[1] == 0x02 { return Self.isInternalV4(b[2], b[3], b[4], b[5]) }
        // Teredo 2001::/32 hides its peer's address: refused.
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0 { return true }
        // Documentation 2001:db8::/32, discard 100::/64.
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8 { return true }
        if b[0] == 0x01 && b[1] == 0x00 && b[2...7].allSatisfy({ $0 == 0 }) { return true }
        // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast ff00::/8.
        if b[0] & 0xFE == 0xFC || b[0] == 0xFE || b[0] == 0xFF { return true }
        return false
    }

    static func isInternalV4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> Bool {
        a == 0 || a == 10 || a == 127 || (a == 169 && b == 254) || (a == 172 && (16...31).contains(b)) || (a == 192 && b == 168)
            || (a == 100 && (64...127).contains(b)) || (a == 192 && b == 0 && c == 0) || (a == 198 && (b == 18 || b == 19))
            || a >= 224
    }
}
