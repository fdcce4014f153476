/// Why a signing request was refused. Codes are stable and never carry credentials.
public struct SigV4Error: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate let name: String
        public var description: String { name }

        /// `X-Amz-Expires` outside 1...604800 (S3 refuses longer presigned URLs).
        public static let invalidExpiry = Code(name: "invalidExpiry")
        /// An object key that is empty or longer than S3's 1,024 UTF-8 bytes.
        public static let invalidKey = Code(name: "invalidKey")
        /// An endpoint that is not `http(s)://host[:port]`.
        public static let invalidEndpoint = Code(name: "invalidEndpoint")
        /// A configuration value that cannot be signed with (empty bucket, region or access key).
        public static let invalidConfiguration = Code(name: "invalidConfiguration")
    }

    public let code: Code
    /// A human sentence naming the offending setting or value (never a secret).
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
