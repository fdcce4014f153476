/// An HMAC-SHA256 key (RFC 2104) with its inner and outer pads already absorbed.
///
/// SigV4 signs every presigned URL with the same derived key, and HS256 verifies every token with one of a few
/// keys; hashing the padded key again for each call would cost two SHA-256 blocks out of about five. The states
/// are values, so one key is shared by every thread without locks and a MAC allocates nothing.
public struct HMACSHA256Key: Sendable {
    private let inner: SHA256
    private let outer: SHA256

    public static let blockSize = 64

    public init(_ key: UnsafeRawBufferPointer) {
        var block = [UInt8](repeating: 0, count: Self.blockSize)
        if key.count > Self.blockSize {
            SHA256.hash(key).withUnsafeBytes { digest in
                for i in 0..<digest.count { block[i] = digest[i] }
            }
        } else {
            for i in 0..<key.count { block[i] = key[i] }
        }
        var inner = SHA256()
        var outer = SHA256()
        var pad = block.map { $0 ^ 0x36 }
        pad.withUnsafeBytes { inner.update($0) }
        pad = block.map { $0 ^ 0x5c }
        pad.withUnsafeBytes { outer.update($0) }
        self.inner = inner
        self.outer = outer
    }

    public init(_ key: some Sequence<UInt8>) {
        let bytes = Array(key)
        self = bytes.withUnsafeBytes { HMACSHA256Key($0) }
    }

    public init(_ key: String) {
        self.init(Array(key.utf8))
    }

    /// A running MAC, for messages assembled in pieces (SigV4 string-to-sign).
    public func begin() -> HMACSHA256 { HMACSHA256(inner: inner, outer: outer) }

    public func authenticationCode(for message: UnsafeRawBufferPointer) -> SHA256Digest {
        var mac = begin()
        mac.update(message)
        return mac.finalize()
    }

    public func authenticationCode(for message: some Sequence<UInt8>) -> SHA256Digest {
        var mac = begin()
        mac.update(message)
        return mac.finalize()
    }

    public func authenticationCode(for message: String) -> SHA256Digest {
        var mac = begin()
        mac.update(message)
        return mac.finalize()
    }
}

/// An HMAC-SHA256 computation under way; see `HMACSHA256Key.begin()`.
public struct HMACSHA256: Sendable {
    private var inner: SHA256
    private let outer: SHA256

    fileprivate init(inner: SHA256, outer: SHA256) {
        self.inner = inner
        self.outer = outer
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) { inner.update(bytes) }
    public mutating func update(_ bytes: some Sequence<UInt8>) { inner.update(bytes) }
    public mutating func update(_ string: String) { inner.update(string) }
    @inline(__always) public mutating func update(_ literal: StaticString) { inner.update(literal) }

    public consuming func finalize() -> SHA256Digest {
        let innerDigest = inner.finalize()
        var outer = self.outer
        innerDigest.withUnsafeBytes { outer.update($0) }
        return outer.finalize()
    }
}
