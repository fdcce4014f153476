internal import CCrypto

/// Bytes from OpenSSL's CSPRNG (seeded from the kernel), for share codes, token ids and test keys.
public enum SecureRandom {
    public static func bytes(_ count: Int) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard count == 0 || RAND_bytes(&out, Int32(count)) == 1 else { throw CryptoError(.randomFailed) }
        return out
    }
}
