/// A Redis reply, copied out of hiredis's reply tree (which is freed at once).
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// A bulk string: binary-safe bytes.
    case bulk([UInt8])
    case null
    case array([RESPValue])

    public var bytes: [UInt8]? {
        if case .bulk(let b) = self { return b }
        return nil
    }

    public var string: String? {
        switch self {
        case .bulk(let b): String(decoding: b, as: UTF8.self)
        case .simpleString(let s): s
        default: nil
        }
    }
}

extension RESPValue {
    /// A `GET`'s value: the bulk string's bytes, nil for a missing key (or any other reply), an error reply thrown
    /// (never taken for "absent").
    public func getValue() throws(RedisError) -> [UInt8]? {
        switch self {
        case .bulk(let bytes): bytes
        case .error(let message): throw RedisError(.server, message)
        default: nil
        }
    }

    /// Turns `-ERR …` replies into thrown errors, for callers that only want data.
    public func orThrow() throws(RedisError) -> RESPValue {
        if case .error(let message) = self { throw RedisError(.server, message) }
        return self
    }
}
