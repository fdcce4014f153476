internal import CCrypto

/// An Ed25519 public key (RFC 8032) held as an OpenSSL `EVP_PKEY`.
///
/// Sendable because the key is immutable after creation and OpenSSL 3 allows concurrent verifications with one
/// `EVP_PKEY`, each on its own `EVP_MD_CTX`.
public final class Ed25519PublicKey: @unchecked Sendable {
    private let key: OpaquePointer
    /// The 32 raw bytes, as a JWK's `x` carries them.
    public let rawRepresentation: [UInt8]

    public init(rawRepresentation raw: [UInt8]) throws(CryptoError) {
        guard raw.count == 32 else { throw CryptoError(.invalidKeyLength) }
        guard
            let key = raw.withUnsafeBufferPointer({
                EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32)
            })
        else { throw CryptoError(.invalidKey) }
        self.key = key
        self.rawRepresentation = raw
    }

    deinit { EVP_PKEY_free(key) }

    /// False for a signature of the wrong length or one that does not verify; never throws, so callers cannot
    /// mistake an error for success.
    public func isValidSignature(_ signature: UnsafeRawBufferPointer, for message: UnsafeRawBufferPointer) -> Bool {
        guard signature.count == 64, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1 else { return false }
        let signatureBase = signature.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let messageBase = message.baseAddress?.assumingMemoryBound(to: UInt8.self)
        var empty: UInt8 = 0
        return withUnsafePointer(to: &empty) { emptyPointer in
            EVP_DigestVerify(context, signatureBase, 64, messageBase ?? emptyPointer, message.count) == 1
        }
    }

    public func isValidSignature(_ signature: some ContiguousByteStorage, for message: some ContiguousByteStorage) -> Bool {
        signature.withUnsafeBytes { s in message.withUnsafeBytes { m in isValidSignature(s, for: m) } }
    }
}

/// An Ed25519 private key, for minting EdDSA viewer tokens and for signing webhooks in tests.
public final class Ed25519PrivateKey: @unchecked Sendable {
    // Immutable after init; OpenSSL allows concurrent signing with one EVP_PKEY.
    private let key: OpaquePointer
    public let publicKey: Ed25519PublicKey

    /// `seed` is the 32-byte private key of RFC 8032 (a JWK's `d`).
    public init(seed: [UInt8]) throws(CryptoError) {
        guard seed.count == 32 else { throw CryptoError(.invalidKeyLength) }
        guard
            let key = seed.withUnsafeBufferPointer({
                EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32)
            })
        else { throw CryptoError(.invalidKey) }
        self.key = key
        var raw = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(key, &raw, &length) == 1, length == 32 else {
            EVP_PKEY_free(key)
            throw CryptoError(.invalidKey)
        }
        self.publicKey = try Ed25519PublicKey(rawRepresentation: raw)
    }

    /// A fresh key from the system's CSPRNG.
    public convenience init() throws(CryptoError) {
        try self.init(seed: try SecureRandom.bytes(32))
    }

    deinit { EVP_PKEY_free(key) }

    public func signature(for message: some ContiguousByteStorage) throws(CryptoError) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw CryptoError(.signingFailed) }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, nil, nil, key) == 1 else { throw CryptoError(.signingFailed) }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        let ok = message.withUnsafeBytes { m -> Bool in
            var empty: UInt8 = 0
            return withUnsafePointer(to: &empty) { emptyPointer in
                let base = m.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer
                return EVP_DigestSign(context, &signature, &length, base, m.count) == 1
            }
        }
        guard ok, length == 64 else { throw CryptoError(.signingFailed) }
        return signature
    }
}
