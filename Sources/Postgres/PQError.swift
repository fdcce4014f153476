public import Delivery

/// A database failure. `code` is a stable label; `sqlState` carries PostgreSQL's own code when the server
/// answered (e.g. `23505` for a unique violation).
public struct PQError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate let name: String
        public var description: String { name }
        /// Could not connect, or the connection broke: the database is down or unreachable.
        public static let unavailable = Code(name: "unavailable")
        /// The server refused the statement (see `sqlState`).
        public static let query = Code(name: "query")
        /// The pool is shutting down.
        public static let shutDown = Code(name: "shutDown")
    }

    public let code: Code
    public let sqlState: String?
    public let message: String

    public init(_ code: Code, sqlState: String? = nil, _ message: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// A row names one that does not exist (a foreign key).
    public var isForeignKeyViolation: Bool { sqlState == "23503" }

    public var description: String { "PQError.\(code)\(sqlState.map { " [\($0)]" } ?? ""): \(message)" }
}

extension PQError: StorageFailure {
    public var isUnavailable: Bool { code == .unavailable || code == .shutDown }
    /// SQLSTATE class 22, "data exception": PostgreSQL could not read a value (e.g. `until`) as its type.
    public var isInvalidInput: Bool { sqlState?.hasPrefix("22") == true }
}
