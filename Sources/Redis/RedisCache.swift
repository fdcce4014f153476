public import Delivery
public import NIOCore

/// Redis as the domain's shared cache: each call is one typed command, routed by its key.
public struct RedisCache: KeyValueCache {
    public let client: RedisClient

    public init(client: RedisClient) { self.client = client }

    /// An error reply (a node loading, a refused command) fails the future: the services then ask the durable
    /// store rather than take the reply for "absent".
    public func get(_ key: [UInt8], on loop: (any EventLoop)?) -> EventLoopFuture<[UInt8]?> {
        client.send(.get(key), on: loop).flatMapThrowing { try $0.getValue() }
    }

    public func get(_ key: [UInt8], on loop: any EventLoop, completion: @escaping @Sendable (Result<[UInt8]?, any Error>) -> Void) {
        client.get(key, on: loop, completion: completion)
    }

    public func set(_ key: [UInt8], _ value: [UInt8], expireSeconds: Int, onlyIfAbsent: Bool, on loop: (any EventLoop)?) -> EventLoopFuture<Void> {
        client.send(.set(key, value, expireSeconds: expireSeconds, onlyIfAbsent: onlyIfAbsent), on: loop).flatMapThrowing { _ = try $0.orThrow() }
    }

    public func delete(_ key: [UInt8], on loop: (any EventLoop)?) -> EventLoopFuture<Void> {
        client.send(.delete(key), on: loop).flatMapThrowing { _ = try $0.orThrow() }
    }

    public func increment(_ key: [UInt8], on loop: (any EventLoop)?) -> EventLoopFuture<Void> {
        client.send(.increment(key), on: loop).flatMapThrowing { _ = try $0.orThrow() }
    }
}
