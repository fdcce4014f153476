/// Why a mirror attempt failed. Permanent failures FAIL the generation at once; transient ones retry.
public struct MirrorError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate let name: String
        public var description: String { name }
        /// The URL is not https, not on the allow-list, or points at a private address.
        public static let sourceNotAllowed = Code(name: "source_not_allowed")
        /// Larger than `MIRROR_MAX_BYTES`.
        public static let tooLarge = Code(name: "too_large")
        /// The source answered 4xx.
        public static let sourceRefused = Code(name: "source_refused")
        /// 5xx, timeouts, resets, truncated bodies.
        public static let sourceUnavailable = Code(name: "source_unavailable")
        /// The byte count differs from Content-Length or the announced `file_size`.
        public static let sizeMismatch = Code(name: "size_mismatch")
        /// S3 refused or failed the upload.
        public static let storage = Code(name: "storage")
    }

    public let code: Code
    public let permanent: Bool
    public let message: String

    public init(_ code: Code, permanent: Bool, _ message: String) {
        self.code = code
        self.permanent = permanent
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
