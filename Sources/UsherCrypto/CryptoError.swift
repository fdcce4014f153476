/// A failure in UsherCrypto. The code is stable and safe to show (it never carries key material).
public struct CryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate let name: String
        public var description: String { name }

        /// A raw Ed25519 key was not 32 bytes.
        public static let invalidKeyLength = Code(name: "invalidKeyLength")
        /// OpenSSL refused the key.
        public static let invalidKey = Code(name: "invalidKey")
        /// OpenSSL failed to sign (out of memory or a broken key).
        public static let signingFailed = Code(name: "signingFailed")
        /// The system random source failed.
        public static let randomFailed = Code(name: "randomFailed")
    }

    public let code: Code

    public init(_ code: Code) { self.code = code }

    public var description: String { "CryptoError.\(code)" }
}
