import HostAddress
import Logging
import Metrics
import NIOCore
import Synchronization

/// `REDIS_CLUSTER=1`: the nodes of `REDIS_URL` are seeds of a Redis Cluster. The slot map is read from any node
/// (`CLUSTER SLOTS`), each command goes to the master owning its key's slot (`ClusterSlot`), over one pipelined
/// connection per node per event loop (`RedisNode`), and the map follows the cluster:
///
/// - `MOVED slot host:port`: the slot has a new owner; the command is resent there, that slot's entry updated at
///   once and the whole map re-read in the background (a resharding or a failover moves many slots).
/// - `ASK slot host:port`: the slot is migrating and this key already moved; `ASKING` then the command go to the
///   target on one connection, once, and the map is left alone (the source still owns the slot).
/// - A node that cannot be reached, and every `refreshInterval`, re-read the map from the nodes known (seeds last).
///
/// Nothing here blocks: the map is an immutable snapshot swapped under a lock held for a pointer copy.
final class RedisCluster: Sendable {
    struct Configuration: Sendable {
        /// How often the slot map is re-read when nothing prompted it. Default 10 s.
        var refreshInterval: Duration = .seconds(10)
        /// The shortest time between two reads of the map. Default 100 ms.
        var minimumRefreshSpacing: Duration = .milliseconds(100)
        /// Redirections followed for one command before its reply (the last `MOVED`) is returned. Default 5.
        var maximumRedirects = 5
        /// `REDIS_READ_FROM_REPLICAS`: reads (`RedisCommand.isRead`) go to the slot's replicas in turn, over
        /// `READONLY` connections, and to the master when none answers. Replication is asynchronous: a read may
        /// trail a write by the replication lag (sub-millisecond on one network). Default false.
        var readFromReplicas = false
    }

    /// The slot owners at one moment: `owners[slot]` indexes `masters` (-1: no master known), and `replicas` the
    /// same way.
    struct SlotMap: Sendable {
        var owners: [Int16]
        var masters: [String]
        var replicas: [[String]] = []

        static let empty = SlotMap(owners: Array(repeating: -1, count: ClusterSlot.count), masters: [])

        func replicas(of slot: Int) -> [String] {
            let index = Int(owners[slot])
            return index >= 0 && index < replicas.count ? replicas[index] : []
        }

        func owner(of slot: Int) -> String? {
            let index = owners[slot]
            return index < 0 ? nil : masters[Int(index)]
        }

        /// Parses a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id…], replicas…]…]`.
        static func parse(_ reply: RESPValue) throws(RedisError) -> SlotMap {
            guard case .array(let ranges) = reply else { throw RedisError(.protocolError, "CLUSTER SLOTS: \(reply)") }
            var map = SlotMap.empty
            for range in ranges {
                guard case .array(let fields) = range, fields.count >= 3, case .integer(let start) = fields[0],
                    case .integer(let end) = fields[1], 0 <= start, start <= end, end < ClusterSlot.count,
                    case .array(let master) = fields[2], master.count >= 2, let host = master[0].string,
                    case .integer(let port) = master[1]
                else { throw RedisError(.protocolError, "CLUSTER SLOTS entry: \(range)") }
                let address = RedisCluster.address(host: host, port: Int(port))
                let index: Int
                if let known = map.masters.firstIndex(of: address) {
                    index = known
                } else {
                    index = map.masters.count
                    map.masters.append(address)
                    map.replicas.append([])
                }
                for replica in fields.dropFirst(3) {
                    guard case .array(let node) = replica, node.count >= 2, let host = node[0].string, case .integer(let port) = node[1] else {
                        continue
                    }
                    let address = RedisCluster.address(host: host, port: Int(port))
                    if !map.replicas[index].contains(address) { map.replicas[index].append(address) }
                }
                for slot in Int(start)...Int(end) { map.owners[slot] = Int16(index) }
            }
            return map
        }
    }

    private struct State {
        var map = SlotMap.empty
        var nodes: [String: RedisNode] = [:]
        var refreshing: EventLoopFuture<Void>?
        /// When the last read of the map started, and whether it failed: with every node down, each failing command
        /// asks for a read, and reads are spaced by `minimumRefreshSpacing` and logged once per outage.
        var lastRefresh = NIODeadline.distantPast
        var lastRefreshFailed = false
        var shutDown = false
    }

    let configuration: Configuration
    private let seeds: [RedisConfiguration]
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())
    private let timer: Mutex<RepeatedTask?> = Mutex(nil)
    private let nextReplica = Atomic<Int>(0)

    init(seeds: [RedisConfiguration], configuration: Configuration, group: any EventLoopGroup, logger: Logger) throws(RedisError) {
        for seed in seeds where seed.database != 0 {
            throw RedisError(.configuration, "a Redis Cluster has only database 0; REDIS_URL names \(seed.database)")
        }
        self.seeds = seeds
        self.configuration = configuration
        self.group = group
        self.logger = logger
        let interval = TimeAmount(configuration.refreshInterval)
        let task = group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            _ = self?.refresh()
        }
        timer.withLock { $0 = task }
    }

    // MARK: routing

    func send(_ command: RedisCommand, on loop: (any EventLoop)?) -> EventLoopFuture<RESPValue> {
        let slot = command.routingKey.map(ClusterSlot.of)
        let replicaReads = configuration.readFromReplicas && command.isRead
        // The owner (and replicas) looked up under the lock: no copy of the map on each command.
        let (target, replicas) = state.withLock { state -> (String?, [String]) in
            let target = slot.flatMap(state.map.owner(of:)) ?? (slot == nil ? state.map.masters.first : nil)
            guard replicaReads, let slot else { return (target, []) }
            return (target, state.map.replicas(of: slot))
        }
        guard let target else {
            // No map yet (first command) or a slot without a master (a failover under way): read the map, then try.
            let loop = loop ?? group.next()
            return refresh().hop(to: loop).flatMap {
                let map = self.state.withLock { $0.map }
                guard let target = slot.flatMap(map.owner(of:)) ?? (slot == nil ? map.masters.first : nil) else {
                    return loop.makeFailedFuture(RedisError(.unavailable, "no Redis Cluster master owns slot \(slot ?? -1)"))
                }
                return self.send(command, to: target, redirects: 0, on: loop)
            }
        }
        if !replicas.isEmpty {
            let replica = replicas[nextReplica.add(1, ordering: .relaxed).oldValue % replicas.count]
            let sent = node(replica, readOnly: true).send(command.arguments, on: loop)
            // A replica down or lagging a resharding: the master answers.
            return follow(sent, command: command, redirects: 0).flatMapError { _ in
                self.send(command, to: target, redirects: 0, on: loop)
            }
        }
        return send(command, to: target, redirects: 0, on: loop)
    }

    /// A read whose value goes to `completion`: sent by callback to the slot's master as the map has it, so the usual
    /// read makes no future. A redirect, a failure, a slot with no known master and replica reads take `send`'s way.
    func get(_ command: RedisCommand, on loop: any EventLoop, completion: @escaping @Sendable (Result<[UInt8]?, any Error>) -> Void) {
        let value = RedisReplyTarget.value(completion)
        guard !(configuration.readFromReplicas && command.isRead), let slot = command.routingKey.map(ClusterSlot.of),
            let target = state.withLock({ $0.map.owner(of: slot) })
        else {
            send(command, on: loop).whenComplete { value.complete($0) }
            return
        }
        node(target).send(
            command.arguments, on: loop,
            to: .reply { result in
                switch self.next(after: result, command: command, redirects: 0, on: loop) {
                case .done(let result): value.complete(result)
                case .redirected(let next): next.whenComplete { value.complete($0) }
                }
            })
    }

    private func send(_ command: RedisCommand, to address: String, redirects: Int, on loop: (any EventLoop)?) -> EventLoopFuture<RESPValue> {
        follow(self.node(address).send(command.arguments, on: loop), command: command, redirects: redirects)
    }

    /// Returns `sent`'s reply, or follows it when it redirects (the reply to a redirected command may redirect again,
    /// as when a slot finishes moving between an `ASK` and its retry). One promise and one callback per command: a
    /// `flatMap`/`flatMapError` chain cost three more allocations on every lookup of the cache-off path.
    private func follow(_ sent: EventLoopFuture<RESPValue>, command: RedisCommand, redirects: Int) -> EventLoopFuture<RESPValue> {
        let promise = sent.eventLoop.makePromise(of: RESPValue.self)
        sent.whenComplete { result in
            switch self.next(after: result, command: command, redirects: redirects, on: sent.eventLoop) {
            case .done(let result): promise.completeWith(result)
            case .redirected(let next): promise.completeWith(next)
            }
        }
        return promise.futureResult
    }

    private enum Next {
        case done(Result<RESPValue, any Error>)
        case redirected(EventLoopFuture<RESPValue>)
    }

    /// What a command's reply leads to: the command sent again where a redirect (within `maximumRedirects`) sends
    /// it, else the reply itself. A failure (a node gone: killed, failed over) re-reads the map, so that the next
    /// commands find the new master.
    private func next(after result: Result<RESPValue, any Error>, command: RedisCommand, redirects: Int, on loop: any EventLoop) -> Next {
        switch result {
        case .success(.error(let message)):
            guard redirects < configuration.maximumRedirects, let next = redirected(message, command: command, redirects: redirects, on: loop)
            else { return .done(result) }
            return .redirected(next)
        case .failure(let error):
            if let error = error as? RedisError, error.isUnavailable { refresh() }
            return .done(result)
        case .success:
            return .done(result)
        }
    }

    /// The command sent again where an error reply sends it (`MOVED`, `ASK`, `TRYAGAIN`); nil for other errors.
    private func redirected(_ message: String, command: RedisCommand, redirects: Int, on loop: any EventLoop) -> EventLoopFuture<RESPValue>? {
        if let moved = Self.redirect(message, kind: "MOVED") {
            RedisClusterMetrics.moved.increment()
            state.withLock { state in
                if let index = state.map.masters.firstIndex(of: moved.address) {
                    state.map.owners[moved.slot] = Int16(index)
                } else if state.map.masters.count < Int(Int16.max) {
                    state.map.owners[moved.slot] = Int16(state.map.masters.count)
                    state.map.masters.append(moved.address)
                    state.map.replicas.append([])
                }
            }
            refresh()
            // Nodes learn a slot's new owner one by one (a resharding tells the target, then the source): past the
            // first redirect, wait a little for the cluster to agree rather than bounce between two nodes.
            guard redirects > 0 else { return send(command, to: moved.address, redirects: redirects + 1, on: loop) }
            return loop.scheduleTask(in: .milliseconds(Int64(5 * redirects))) {}.futureResult.flatMap {
                self.send(command, to: moved.address, redirects: redirects + 1, on: loop)
            }
        }
        if let ask = Self.redirect(message, kind: "ASK") {
            RedisClusterMetrics.ask.increment()
            let target = node(ask.address)
            // One connection, in order: ASKING lets the next command in on a slot the node is importing.
            let asking = target.send([Array("ASKING".utf8)], on: loop)
            let answer = target.send(command.arguments, on: loop)
            return follow(asking.and(answer).map { $0.1 }, command: command, redirects: redirects + 1)
        }
        if message.hasPrefix("TRYAGAIN") {
            // A multi-key command during a migration, its keys split for a moment: once more, shortly.
            return loop.scheduleTask(in: .milliseconds(10)) {}.futureResult.flatMap { self.send(command, on: loop) }
        }
        return nil
    }

    /// `MOVED 3999 127.0.0.1:6381` → (3999, "127.0.0.1:6381").
    static func redirect(_ message: String, kind: String) -> (slot: Int, address: String)? {
        let parts = message.split(separator: " ")
        guard parts.count == 3, parts[0] == kind, let slot = Int(parts[1]), 0 <= slot, slot < ClusterSlot.count else { return nil }
        return (slot, String(parts[2]))
    }

    /// `host:port`, `[v6]:port`: how the map names a node (as `MOVED` and `ASK` do).
    static func address(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The keys of one multi-key command must share a slot in a cluster (hash tags), not only a node.
    func group(forKey key: [UInt8]) -> Int { ClusterSlot.of(key) }

    /// The master that owns `key`'s slot in the current map, as an index into it; nil while no master is known.
    func master(forKey key: [UInt8]) -> Int? {
        let slot = ClusterSlot.of(key)
        return state.withLock { state in
            let index = state.map.owners[slot]
            return index < 0 ? nil : Int(index)
        }
    }

    // MARK: the map

    /// Re-reads the slot map from the first node that answers (known masters, then seeds). One read at a time;
    /// callers during a read share it.
    @discardableResult
    func refresh() -> EventLoopFuture<Void> {
        let loop = group.next()
        let (future, promise): (EventLoopFuture<Void>, EventLoopPromise<Void>?) = state.withLock { state in
            if state.shutDown { return (loop.makeFailedFuture(RedisError(.unavailable, "client shut down")), nil) }
            if let refreshing = state.refreshing { return (refreshing, nil) }
            let now = NIODeadline.now()
            if now < state.lastRefresh + TimeAmount(configuration.minimumRefreshSpacing) { return (loop.makeSucceededVoidFuture(), nil) }
            state.lastRefresh = now
            let promise = loop.makePromise(of: Void.self)
            state.refreshing = promise.futureResult
            return (promise.futureResult, promise)
        }
        guard let promise else { return future }
        let candidates = state.withLock { $0.map.masters } + seeds.map { Self.address(host: $0.host, port: $0.port) }
        var unique: [String] = []
        for candidate in candidates where !unique.contains(candidate) { unique.append(candidate) }
        readMap(from: unique[...], on: loop).whenComplete { result in
            let firstFailure: Bool = self.state.withLock { state in
                if case .success(let map) = result { state.map = map }
                state.refreshing = nil
                defer { state.lastRefreshFailed = (try? result.get()) == nil }
                return (try? result.get()) == nil && !state.lastRefreshFailed
            }
            if firstFailure { self.logger.warning("no Redis Cluster node answered CLUSTER SLOTS; retrying while commands come") }
            RedisClusterMetrics.refreshes.increment()
            promise.completeWith(result.map { _ in () })
        }
        return future
    }

    private func readMap(from candidates: ArraySlice<String>, on loop: any EventLoop) -> EventLoopFuture<SlotMap> {
        guard let address = candidates.first else {
            return loop.makeFailedFuture(RedisError(.unavailable, "no Redis Cluster node answered CLUSTER SLOTS"))
        }
        return node(address).send([Array("CLUSTER".utf8), Array("SLOTS".utf8)], on: loop).flatMapThrowing { reply in
            let map = try SlotMap.parse(reply.orThrow())
            guard map.owners.contains(where: { $0 >= 0 }) else { throw RedisError(.server, "\(address) knows no slots yet") }
            return map
        }.flatMapError { _ in self.readMap(from: candidates.dropFirst(), on: loop) }
    }

    /// The node at `address`, with the seeds' credentials and timeouts; made on first use. A replica read gets
    /// connections of its own (`READONLY`).
    private func node(_ address: String, readOnly: Bool = false) -> RedisNode {
        let name = readOnly ? "readonly " + address : address
        return state.withLock { state in
            if let node = state.nodes[name] { return node }
            var configuration = seeds[0]
            configuration.readOnly = readOnly
            if let parsed = HostPort(address), let port = parsed.port {
                configuration.host = parsed.host
                configuration.port = port
            }
            let node = RedisNode(configuration: configuration, group: group, logger: logger)
            state.nodes[name] = node
            return node
        }
    }

    // MARK: operations

    /// true when every master of the map answers PING (and there is a map).
    func pingAll(on loop: any EventLoop) -> EventLoopFuture<Bool> {
        let masters = state.withLock { $0.map.masters }
        guard !masters.isEmpty else { return refresh().hop(to: loop).flatMap { self.pingAll(on: loop) }.recover { _ in false } }
        let replies = masters.map { address in
            node(address).send(RedisCommand.ping.arguments, on: loop).map { $0 == .simpleString("PONG") }.recover { _ in false }
        }
        return EventLoopFuture.whenAllSucceed(replies, on: loop).map { $0.allSatisfy { $0 } }
    }

    func shutdown() async {
        timer.withLock { $0?.cancel() }
        let nodes = state.withLock { state in
            state.shutDown = true
            return Array(state.nodes.values)
        }
        for node in nodes { await node.shutdown() }
    }
}

/// How often the cluster redirected Usher, and how often the map was re-read: a resharding shows as a burst of
/// `moved`, a migration in progress as `ask`.
enum RedisClusterMetrics {
    static let moved = Counted(label: "usher_redis_cluster_redirects_total", dimensions: [("kind", "moved")])
    static let ask = Counted(label: "usher_redis_cluster_redirects_total", dimensions: [("kind", "ask")])
    static let refreshes = Counter(label: "usher_redis_cluster_map_refreshes_total")
    /// Play-sketch batches a node refused (a slot moved, or a Redis without script flags), then sent key by key.
    static let sketchBatchFallbacks = Counted(label: "usher_redis_cluster_sketch_batch_fallbacks_total")

    /// The metric, and the count in this process (for tests, whatever the metrics backend).
    final class Counted: Sendable {
        private let counter: Counter
        private let total = Atomic<Int>(0)
        init(label: String, dimensions: [(String, String)] = []) { counter = Counter(label: label, dimensions: dimensions) }
        func increment() {
            counter.increment()
            total.add(1, ordering: .relaxed)
        }
        var count: Int { total.load(ordering: .relaxed) }
    }

    static var movedCount: Int { moved.count }
    static var askCount: Int { ask.count }
}
