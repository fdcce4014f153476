public import NIOCore

/// The shared cache in front of the durable store: Redis in production (`RedisCache`), a dictionary in the
/// stack-free tests.
///
/// Byte keys and values, because the records' encodings are the domain's (see `DeliveryRecord+CacheEncoding`):
/// a cache only keeps what it is given. Futures rather than `async`, because the edge reads it on its event loop
/// without a hop; each call completes on `loop` when one is given. A failed future means the cache could not
/// answer, which the services treat as "ask the durable store", never as "absent".
public protocol KeyValueCache: Sendable {
    /// The value under `key`, or nil when there is none.
    func get(_ key: [UInt8], on loop: (any EventLoop)?) -> EventLoopFuture<[UInt8]?>

    /// The same read, its result passed to `completion` where the future above would complete: for the edge's read
    /// per request, where a future of its own costs an allocation and a callback more (the default implementation
    /// waits for that future).
    func get(_ key: [UInt8], on loop: any EventLoop, completion: @escaping @Sendable (Result<[UInt8]?, any Error>) -> Void)

    /// Stores `value` for `expireSeconds`; with `onlyIfAbsent`, only when the key holds nothing (a read-through
    /// fill never overwrites a writer's newer value).
    func set(_ key: [UInt8], _ value: [UInt8], expireSeconds: Int, onlyIfAbsent: Bool, on loop: (any EventLoop)?) -> EventLoopFuture<Void>

    func delete(_ key: [UInt8], on loop: (any EventLoop)?) -> EventLoopFuture<Void>

    /// Adds one to a counter (creating it at 1): the change signal other instances poll.
    func increment(_ key: [UInt8], on loop: (any EventLoop)?) -> EventLoopFuture<Void>
}

extension KeyValueCache {
    public func get(_ key: [UInt8], on loop: any EventLoop, completion: @escaping @Sendable (Result<[UInt8]?, any Error>) -> Void) {
        get(key, on: loop).whenComplete(completion)
    }

    func get(_ key: [UInt8]) async throws -> [UInt8]? {
        try await get(key, on: nil).get()
    }

    func set(_ key: [UInt8], _ value: [UInt8], expireSeconds: Int, onlyIfAbsent: Bool = false) async throws {
        try await set(key, value, expireSeconds: expireSeconds, onlyIfAbsent: onlyIfAbsent, on: nil).get()
    }

    func delete(_ key: [UInt8]) async throws {
        try await delete(key, on: nil).get()
    }

    func increment(_ key: [UInt8]) async throws {
        try await increment(key, on: nil).get()
    }
}
