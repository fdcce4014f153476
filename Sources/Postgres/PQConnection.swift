internal import CLibPQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libpq connection (`PGconn`), closed in `deinit`.
///
/// libpq calls block, so a connection is only ever used on a thread-pool thread, by one caller at a time (the
/// pool hands it out exclusively): hence `@unchecked Sendable`.
public final class PQConnection: @unchecked Sendable {
    private let connection: OpaquePointer
    /// The statements prepared on this connection, by name (`query(prepared:_:_:)`).
    private var prepared: Set<String> = []

    init(conninfo: String) throws(PQError) {
        guard let connection = PQconnectdb(conninfo) else {
            throw PQError(.unavailable, "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.message(PQerrorMessage(connection))
            PQfinish(connection)
            throw PQError(.unavailable, message)
        }
        self.connection = connection
    }

    deinit { PQfinish(connection) }

    var isHealthy: Bool { PQstatus(connection) == CONNECTION_OK }

    /// Runs one statement with text parameters (`$1`, `$2`, …): values never travel inside the SQL text.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws(PQError) -> PQRows {
        try Self.refuseNUL(parameters)
        let result = withCStrings(parameters) { values in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        return try take(result)
    }

    /// As `query`, for a statement run many times a second: prepared as `name` the first time this connection runs
    /// it, then only executed, without being parsed and planned again (the play flush's upsert of 100 rows: 0.70 ms
    /// of PostgreSQL each time, 0.57 prepared, in pgbench). `name` must always stand for the same `sql`.
    @discardableResult
    public func query(prepared name: String, _ sql: String, _ parameters: [String?]) throws(PQError) -> PQRows {
        try Self.refuseNUL(parameters)
        if !prepared.contains(name) {
            _ = try take(PQprepare(connection, name, sql, Int32(parameters.count), nil))
            prepared.insert(name)
        }
        let result = withCStrings(parameters) { values in
            PQexecPrepared(connection, name, Int32(parameters.count), values, nil, nil, 0)
        }
        return try take(result)
    }

    /// libpq takes C strings: a value holding U+0000 would be cut there and a different value stored. PostgreSQL's
    /// text cannot hold it either, so it is refused as PostgreSQL would (22021, a data exception: invalid input).
    private static func refuseNUL(_ parameters: [String?]) throws(PQError) {
        if parameters.contains(where: { $0?.utf8.contains(0) == true }) {
            throw PQError(.query, sqlState: "22021", "a parameter contains U+0000, which PostgreSQL text cannot hold")
        }
    }

    /// Runs a script of several statements without parameters (migrations only).
    public func execute(script: String) throws(PQError) {
        _ = try take(PQexec(connection, script))
    }

    private func take(_ result: OpaquePointer?) throws(PQError) -> PQRows {
        guard let result else {
            throw PQError(isHealthy ? .query : .unavailable, Self.message(PQerrorMessage(connection)))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return PQRows(result)
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = Self.message(PQresultErrorMessage(result))
            // Class 08 is "connection exception"; a broken socket also leaves the connection unhealthy.
            let unavailable = !isHealthy || state?.hasPrefix("08") == true || state == "57P01"
            throw PQError(unavailable ? .unavailable : .query, sqlState: state, message)
        }
    }

    private static func message(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "unknown libpq error" }
        var message = String(cString: text)
        while message.last == "\n" { message.removeLast() }
        return message
    }
}

/// Calls `body` with a C array of NUL-terminated copies of `strings` (NULL for nil) that live for the call.
private func withCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { for copy in copies { free(copy) } }
    return copies.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress) }
}
