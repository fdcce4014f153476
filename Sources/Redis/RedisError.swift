public import Delivery

/// Why a Redis command did not produce a reply. Codes are stable metric labels.
public struct RedisError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate let name: String
        public var description: String { name }
        /// No connection (never connected, or reconnecting after a failure): answered at once, never queued.
        public static let unavailable = Code(name: "unavailable")
        /// No reply within the command timeout; the connection is closed and re-established.
        public static let timeout = Code(name: "timeout")
        /// The connection dropped with the command in flight.
        public static let connectionClosed = Code(name: "connectionClosed")
        /// The server's bytes were not RESP.
        public static let protocolError = Code(name: "protocolError")
        /// Redis answered `-ERR …` (the message is in `message`).
        public static let server = Code(name: "server")
        /// `REDIS_URL` could not be used.
        public static let configuration = Code(name: "configuration")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public var description: String { message.isEmpty ? "RedisError.\(code)" : "RedisError.\(code): \(message)" }
}

extension RedisError: StorageFailure {
    /// Redis down, slow or reconnecting: the caller answers 503 and may retry.
    public var isUnavailable: Bool { code == .unavailable || code == .timeout || code == .connectionClosed }
    public var isInvalidInput: Bool { false }
}
