public import Logging
public import NIOCore

/// Redis for Usher: one node, several with the keys spread over them by consistent hashing, or a Redis Cluster
/// (`RedisCluster`, when `cluster` is set: the nodes are its seeds).
///
/// `REDIS_URL` may list several nodes, comma-separated. Each key lives on exactly one node, chosen by jump
/// consistent hashing (Lamping & Veach, 2014) of the key's FNV-1a 64-bit hash, so every instance configured with
/// the same list agrees without talking to the others, and appending an (n+1)th node moves only 1/(n+1) of the
/// keys. Redis holds only caches here: a node that is down or was just added costs Postgres read-throughs for its
/// keys, never a wrong answer. Keep the order of the list when changing it; append new nodes at the end.
public final class RedisClient: Sendable {
    /// The nodes, in `REDIS_URL` order.
    public let nodes: [RedisConfiguration]
    private let shards: [RedisNode]
    private let cluster: RedisCluster?
    private let group: any EventLoopGroup

    public init(configurations: [RedisConfiguration], group: any EventLoopGroup, logger: Logger) {
        precondition(!configurations.isEmpty, "RedisClient needs at least one node")
        self.nodes = configurations
        self.group = group
        self.shards = configurations.map { RedisNode(configuration: $0, group: group, logger: logger) }
        self.cluster = nil
    }

    /// `REDIS_CLUSTER=1`: `seeds` are nodes of a Redis Cluster (any of them; the rest is discovered).
    /// `readFromReplicas` (`REDIS_READ_FROM_REPLICAS`): reads may be answered by the slots' replicas.
    public init(
        clusterSeeds seeds: [RedisConfiguration], readFromReplicas: Bool = false, group: any EventLoopGroup, logger: Logger
    ) throws(RedisError) {
        precondition(!seeds.isEmpty, "RedisClient needs at least one seed")
        self.nodes = seeds
        self.group = group
        self.shards = []
        var configuration = RedisCluster.Configuration()
        configuration.readFromReplicas = readFromReplicas
        self.cluster = try RedisCluster(seeds: seeds, configuration: configuration, group: group, logger: logger)
    }

    public convenience init(configuration: RedisConfiguration, group: any EventLoopGroup, logger: Logger) {
        self.init(configurations: [configuration], group: group, logger: logger)
    }

    /// `REDIS_URL`: one `redis://` URL, or several separated by commas; with `cluster` (`REDIS_CLUSTER=1`), seeds
    /// of a Redis Cluster.
    public convenience init(
        url: String, cluster: Bool = false, readFromReplicas: Bool = false, group: any EventLoopGroup, logger: Logger
    ) throws(RedisError) {
        if cluster {
            try self.init(clusterSeeds: try Self.configurations(url: url), readFromReplicas: readFromReplicas, group: group, logger: logger)
        } else {
            self.init(configurations: try Self.configurations(url: url), group: group, logger: logger)
        }
    }

    /// Whether this client talks to a Redis Cluster.
    public var isCluster: Bool { cluster != nil }

    public static func configurations(url: String) throws(RedisError) -> [RedisConfiguration] {
        var nodes: [RedisConfiguration] = []
        for part in url.split(separator: ",", omittingEmptySubsequences: false) {
            nodes.append(try RedisConfiguration(url: part.trimmingWhitespace()))
        }
        return nodes
    }

    /// Connects every node's connections now rather than on first use.
    public func connect() {
        for shard in shards { shard.connect() }
        cluster?.refresh()
    }

    /// Sends `command` to the node owning its routing key. The future completes on `loop` when it is one of the
    /// group's (the edge's handlers get their reply on their own thread).
    public func send(_ command: RedisCommand, on loop: (any EventLoop)? = nil) -> EventLoopFuture<RESPValue> {
        if let cluster { return cluster.send(command, on: loop) }
        return node(for: command).send(command.arguments, on: loop)
    }

    /// `GET key`, its value (nil when absent; an error reply fails it) passed to `completion` instead of a future:
    /// a caller on one of the group's loops gets it from its loop's connection with no future made. On a cluster,
    /// from the slot's master as the map has it; a redirect is followed through futures as with `send(_:on:)`.
    public func get(
        _ key: [UInt8], on loop: any EventLoop, completion: @escaping @Sendable (Result<[UInt8]?, any Error>) -> Void
    ) {
        let command = RedisCommand.get(key)
        guard let cluster else {
            node(for: command).send(command.arguments, on: loop, to: .value(completion))
            return
        }
        cluster.get(command, on: loop, completion: completion)
    }

    public func send(_ command: RedisCommand) async throws -> RESPValue {
        try await send(command, on: nil).get()
    }

    private func node(for command: RedisCommand) -> RedisNode {
        guard shards.count > 1, let key = command.routingKey else { return shards[0] }
        return shards[Self.node(forKey: Self.hashTag(key), nodeCount: shards.count)]
    }

    /// The part of a key that decides its node, as Redis Cluster reads it: the text between the first `{` and the
    /// next `}` when that is not empty, else the whole key. Keys that must meet in one script (a generation's daily
    /// sketches) share a tag.
    public static func hashTag(_ key: [UInt8]) -> ArraySlice<UInt8> {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")),
            let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        else { return key[...] }
        return key[(open + 1)..<close]
    }

    /// Keys with the same group may go in one multi-key command (a script): their node's index with client-side
    /// shards, their slot in a cluster (which refuses keys of different slots, even on one node).
    public func keyGroup(forKey key: [UInt8]) -> Int {
        if let cluster { return cluster.group(forKey: key) }
        return shards.count > 1 ? Self.node(forKey: Self.hashTag(key), nodeCount: shards.count) : 0
    }

    /// On a cluster, the master that holds `key` now (an index into the slot map; nil when none is known): keys of
    /// one master may go in one script that declares only the first and reaches the others undeclared
    /// (`allow-cross-slot-keys`, Redis 7). nil without a cluster.
    public func clusterMaster(forKey key: [UInt8]) -> Int? {
        cluster?.master(forKey: key)
    }

    /// true when every node answers PING.
    public func pingAll(on loop: any EventLoop) -> EventLoopFuture<Bool> {
        if let cluster { return cluster.pingAll(on: loop) }
        let replies = shards.map { shard in
            shard.send(RedisCommand.ping.arguments, on: loop).map { $0 == .simpleString("PONG") }.recover { _ in false }
        }
        return EventLoopFuture.whenAllSucceed(replies, on: loop).map { $0.allSatisfy { $0 } }
    }

    /// Closes every connection; later commands fail with `.unavailable`.
    public func shutdown() async {
        for shard in shards { await shard.shutdown() }
        await cluster?.shutdown()
    }

    /// One of the client's loops, for callers that need a loop to complete on.
    public var anyEventLoop: any EventLoop { group.next() }

    /// The node owning `key`: jump consistent hash of the key's FNV-1a 64-bit hash.
    public static func node(forKey key: some Collection<UInt8>, nodeCount: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        var bucket: Int64 = -1
        var next: Int64 = 0
        while next < Int64(nodeCount) {
            bucket = next
            hash = hash &* 2_862_933_555_777_941_757 &+ 1
            next = Int64(Double(bucket + 1) * (Double(Int64(1) << 31) / Double((hash >> 33) + 1)))
        }
        return Int(bucket)
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        var s = self
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
