internal import CCrypto

public enum ConstantTime {
    /// Compares without an early exit, so a MAC check leaks no timing about where the first difference is.
    /// Buffers of different lengths compare unequal (the length of a MAC is not secret).
    public static func equals(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard lhs.count > 0 else { return true }
        return CRYPTO_memcmp(lhs.baseAddress!, rhs.baseAddress!, lhs.count) == 0
    }

    public static func equals(_ lhs: some ContiguousByteStorage, _ rhs: some ContiguousByteStorage) -> Bool {
        lhs.withUnsafeBytes { l in rhs.withUnsafeBytes { r in equals(l, r) } }
    }
}

/// Byte containers that can lend their storage; `[UInt8]`, slices and `SHA256Digest` qualify.
public protocol ContiguousByteStorage {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousByteStorage where Element == UInt8 {}
extension ArraySlice: ContiguousByteStorage where Element == UInt8 {}
extension SHA256Digest: ContiguousByteStorage {}
