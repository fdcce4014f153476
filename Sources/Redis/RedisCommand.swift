/// One Redis command, made only through typed factories that name the key it is routed by: with several nodes
/// (client-side shards today, a cluster later) the node is chosen from `routingKey`, never guessed from an
/// argument's position (`EVAL`'s second argument is its script, not a key).
public struct RedisCommand: Sendable {
    /// Binary-safe arguments, the command's name first.
    public let arguments: [[UInt8]]
    /// The key that decides the node; nil for commands that touch no key (`PING`), which go to the first node.
    public let routingKey: [UInt8]?
    /// Reads only: a Redis Cluster replica may answer it (`REDIS_READ_FROM_REPLICAS`). Writes and scripts never.
    public let isRead: Bool

    private init(_ arguments: [[UInt8]], routingKey: [UInt8]?, isRead: Bool = false) {
        self.arguments = arguments
        self.routingKey = routingKey
        self.isRead = isRead
    }

    /// Every read that misses the in-process cache sends one: the name is made once.
    private static let getName = Array("GET".utf8)

    public static func get(_ key: [UInt8]) -> RedisCommand {
        RedisCommand([getName, key], routingKey: key, isRead: true)
    }

    /// `SET key value [EX seconds] [NX]`: replies `+OK`, or nil (`$-1`) when `onlyIfAbsent` found the key.
    public static func set(_ key: [UInt8], _ value: [UInt8], expireSeconds: Int? = nil, onlyIfAbsent: Bool = false) -> RedisCommand {
        var arguments = [Array("SET".utf8), key, value]
        if let expireSeconds { arguments += [Array("EX".utf8), Array(String(expireSeconds).utf8)] }
        if onlyIfAbsent { arguments.append(Array("NX".utf8)) }
        return RedisCommand(arguments, routingKey: key)
    }

    public static func delete(_ key: [UInt8]) -> RedisCommand {
        RedisCommand([Array("DEL".utf8), key], routingKey: key)
    }

    public static func increment(_ key: [UInt8]) -> RedisCommand {
        RedisCommand([Array("INCR".utf8), key], routingKey: key)
    }

    public static func exists(_ key: [UInt8]) -> RedisCommand {
        RedisCommand([Array("EXISTS".utf8), key], routingKey: key, isRead: true)
    }

    /// Milliseconds the key has left: -1 without an expiry, -2 when absent.
    public static func timeToLive(_ key: [UInt8]) -> RedisCommand {
        RedisCommand([Array("PTTL".utf8), key], routingKey: key, isRead: true)
    }

    /// `EVAL script numkeys keys… args…`, routed by `keys[0]`. A script may only touch keys on that node: pass one
    /// key, or keys that share a hash tag (`{…}`), as Redis Cluster requires too.
    public static func eval(_ script: String, keys: [[UInt8]], arguments: [[UInt8]] = []) -> RedisCommand {
        RedisCommand([Array("EVAL".utf8), Array(script.utf8), Array(String(keys.count).utf8)] + keys + arguments, routingKey: keys.first)
    }

    public static let ping = RedisCommand([Array("PING".utf8)], routingKey: nil)

    /// Any other command (operations, tests), with the key that routes it said outright (nil: the first node).
    public static func other(_ arguments: [[UInt8]], routedBy key: [UInt8]?) -> RedisCommand {
        RedisCommand(arguments, routingKey: key)
    }
}
