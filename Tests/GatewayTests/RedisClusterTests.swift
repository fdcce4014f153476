import Delivery
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServerTestSupport
import Synchronization
import Testing
import UsherTestSupport

@testable import Redis

/// `REDIS_CLUSTER=1`: slots as Redis computes them, the slot map, and redirections followed on a real cluster
/// (`deploy/local/redis-cluster`, 3 masters + 3 replicas, started by the test command).
@Suite(.serialized) struct RedisClusterTests {
    @Test func slotsAreRedisClusterSlots() {
        // CRC16/XMODEM's check value, and slots `CLUSTER KEYSLOT` answers (Redis 7).
        #expect(ClusterSlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(ClusterSlot.of(Array("foo".utf8)) == 12182)
        #expect(ClusterSlot.of(Array("bar".utf8)) == 5061)
        // Hash tags: only the text between the first { and the next } counts; an empty tag does not.
        #expect(ClusterSlot.of(Array("{user1000}.following".utf8)) == ClusterSlot.of(Array("{user1000}.followers".utf8)))
        #expect(ClusterSlot.of(Array("usher:pv:{vid-1}:20000".utf8)) == ClusterSlot.of(Array("vid-1".utf8)))
        #expect(
            ClusterSlot.of(Array("{}x".utf8)) == ClusterSlot.of(Array("{}x".utf8))
                && ClusterSlot.of(Array("{}x".utf8)) != ClusterSlot.of(Array("x".utf8)))
    }

    @Test func redirectionsAndTheSlotMapAreParsed() throws {
        #expect(RedisCluster.redirect("MOVED 3999 127.0.0.1:6381", kind: "MOVED")! == (3999, "127.0.0.1:6381"))
        #expect(RedisCluster.redirect("ASK 12 [::1]:7002", kind: "ASK")! == (12, "[::1]:7002"))
        #expect(RedisCluster.redirect("MOVED 16384 h:1", kind: "MOVED") == nil)
        #expect(RedisCluster.redirect("ERR wrong", kind: "MOVED") == nil)

        let reply = RESPValue.array([
            .array([.integer(0), .integer(5460), .array([.bulk(Array("127.0.0.1".utf8)), .integer(7001), .bulk(Array("id1".utf8))])]),
            .array([
                .integer(5461), .integer(16383), .array([.bulk(Array("::1".utf8)), .integer(7002)]),
                .array([.bulk(Array("127.0.0.1".utf8)), .integer(7005)]),
            ]),
        ])
        let map = try RedisCluster.SlotMap.parse(reply)
        #expect(map.owner(of: 0) == "127.0.0.1:7001" && map.owner(of: 5460) == "127.0.0.1:7001")
        #expect(map.owner(of: 5461) == "[::1]:7002" && map.owner(of: 16383) == "[::1]:7002")
        #expect(map.replicas(of: 16383) == ["127.0.0.1:7005"] && map.replicas(of: 0).isEmpty)
        #expect(throws: RedisError.self) { try RedisCluster.SlotMap.parse(.array([.array([.integer(5), .integer(2)])])) }
        #expect(throws: RedisError.self) { try RedisCluster.SlotMap.parse(.error("CLUSTERDOWN")) }
    }

    static var clusterRunning: Bool { LocalStack.isRunning && LocalStack.clusterURL != nil }

    /// Each key is written to the master that owns its slot, and only there; a script's keys share a slot.
    @Test(.enabled(if: clusterRunning, "needs deploy/local/redis-cluster (the test command starts it)"))
    func commandsGoToTheMasterOwningTheSlot() async throws {
        let client = try RedisClient(
            url: try #require(LocalStack.clusterURL), cluster: true, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        let run = UUID().uuidString
        var owners: Set<String> = []
        for index in 0..<60 {
            let key = Array("usher:test:\(run):\(index)".utf8)
            #expect(try await client.send(.set(key, Array("v\(index)".utf8), expireSeconds: 60)) == .simpleString("OK"))
            #expect(try await client.send(.get(key)) == .bulk(Array("v\(index)".utf8)))
            let slot = try output("redis-cli", ["-p", seedPort, "cluster", "keyslot", String(decoding: key, as: UTF8.self)])
            #expect(Int(slot) == ClusterSlot.of(key))
            owners.insert(try master(ofSlot: ClusterSlot.of(key)))
        }
        #expect(owners.count == 3, "60 keys spread over the 3 masters: \(owners)")
        let tagged = [Array("usher:pv:{\(run)}:1".utf8), Array("usher:pv:{\(run)}:2".utf8)]
        let script = "redis.call('SET', KEYS[1], 'a', 'EX', 60); redis.call('SET', KEYS[2], 'b', 'EX', 60); return 2"
        #expect(try await client.send(.eval(script, keys: tagged)) == .integer(2))
        #expect(client.keyGroup(forKey: tagged[0]) == client.keyGroup(forKey: tagged[1]))
        #expect(try await client.pingAll(on: MultiThreadedEventLoopGroup.singleton.next()).get())
        await client.shutdown()
    }

    /// Play sketches flush as one script per master (the first key declared, the rest reached through
    /// `allow-cross-slot-keys`), not a PFADD and an EXPIRE per key: every sketch holds its viewers and expires.
    @Test(.enabled(if: clusterRunning, "needs deploy/local/redis-cluster (the test command starts it)"))
    func sketchesFlushAsOneScriptPerMaster() async throws {
        let client = try RedisClient(
            url: try #require(LocalStack.clusterURL), cluster: true, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        _ = try await client.send(.ping)
        let sketches = RedisViewerSketches(client: client)
        let run = UUID().uuidString
        let day = PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970))
        var viewers: [PlayKey: Set<UInt64>] = [:]
        for index in 0..<200 {
            viewers[PlayKey(requestID: "\(run)-\(index)", day: day)] = Set((0..<UInt64(1 + index % 7)).map { $0 &* 7919 &+ UInt64(index) })
        }
        let masters = try masters()
        #expect(masters.count == 3)
        func calls(_ command: String) throws -> Int {
            try masters.reduce(0) { total, master in
                let port = String(master.split(separator: ":").last!)
                let stats = try output("redis-cli", ["-p", port, "info", "commandstats"])
                // INFO ends its lines with CRLF: one Character in Swift, so split on either byte.
                let line = stats.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" }).first { $0.hasPrefix("cmdstat_\(command):") }
                // `cmdstat_eval:calls=N,usec=…,rejected_calls=…`: the first field.
                let calls =
                    line.flatMap { $0.split(separator: ":").last?.split(separator: ",").first?.dropFirst("calls=".count) }.flatMap { Int($0) } ?? 0
                return total + calls
            }
        }
        let (evals, expires) = (try calls("eval"), try calls("expire"))
        try await sketches.add(viewers, keepDays: 2)
        let (scripts, lifetimes) = (try calls("eval") - evals, try calls("expire") - expires)
        #expect(scripts == 3, "one script per master for 200 sketches, not \(scripts)")
        #expect(lifetimes == 200, "each sketch given its lifetime, inside the scripts: \(lifetimes)")
        // The same viewers again change no sketch, so no lifetime is set again; one new viewer sets one.
        try await sketches.add(viewers, keepDays: 2)
        #expect(try calls("expire") - expires == 200)
        var oneNew = viewers
        oneNew[PlayKey(requestID: "\(run)-3", day: day)]!.insert(42)
        try await sketches.add(oneNew, keepDays: 2)
        #expect(try calls("expire") - expires == 201)
        for index in [0, 1, 6, 99, 199] {
            let counts = try await sketches.counts(requestID: "\(run)-\(index)", days: [day])
            #expect(counts[day] == 1 + index % 7)
        }
        let ttl = try await client.send(.timeToLive(RedisViewerSketches.key("\(run)-5", day)))
        guard case .integer(let milliseconds) = ttl else {
            Issue.record("TTL: \(ttl)")
            return
        }
        #expect(milliseconds > 86_400_000 && milliseconds <= 2 * 86_400_000, "PTTL \(milliseconds)")
        await client.shutdown()
    }

    /// A batch whose map is out of date (a slot moved after the client read it) is refused by the node and sent key by
    /// key, redirected as any command: no viewer is lost, and the fallback is counted.
    @Test(.enabled(if: clusterRunning, "needs deploy/local/redis-cluster (the test command starts it)"))
    func aSketchBatchANodeRefusesGoesKeyByKey() async throws {
        let client = try RedisClient(
            url: try #require(LocalStack.clusterURL), cluster: true, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        _ = try await client.send(.ping)
        let sketches = RedisViewerSketches(client: client)
        let day = PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970))
        // Two generations whose sketches the client places on one master; then one of their (empty) slots moves.
        let run = UUID().uuidString
        let ids = (0..<400).map { "\(run)-\($0)" }
        // A slot with no keys yet, so that it can be reassigned at once (a slot holding keys would need MIGRATE).
        let moving = try #require(
            try ids.first { id in
                let slot = ClusterSlot.of(RedisViewerSketches.key(id, day))
                let port = String(try master(ofSlot: slot).split(separator: ":").last!)
                return try output("redis-cli", ["-p", port, "cluster", "countkeysinslot", "\(slot)"]) == "0"
            })
        let movingSlot = ClusterSlot.of(RedisViewerSketches.key(moving, day))
        let source = try master(ofSlot: movingSlot)
        let staying = try #require(
            ids.first { id in
                let slot = ClusterSlot.of(RedisViewerSketches.key(id, day))
                return slot != movingSlot && (try? master(ofSlot: slot)) == source
            })
        let target = try #require(try masters().first { $0 != source })
        let (sourcePort, targetPort) = (String(source.split(separator: ":").last!), String(target.split(separator: ":").last!))
        let (sourceID, targetID) = (
            try output("redis-cli", ["-p", sourcePort, "cluster", "myid"]), try output("redis-cli", ["-p", targetPort, "cluster", "myid"])
        )
        // As `redis-cli --cluster reshard` does, the target first: an importing target bumps its config epoch when it
        // takes the slot, so its claim wins over the older one. (Told in any order without importing, the masters once
        // disagreed for longer than the client's redirects last in CI, and the next test's cluster did not reach
        // cluster_state:ok.)
        _ = try output("redis-cli", ["-p", targetPort, "cluster", "setslot", "\(movingSlot)", "importing", sourceID])
        _ = try output("redis-cli", ["-p", sourcePort, "cluster", "setslot", "\(movingSlot)", "migrating", targetID])
        let others = try masters().filter { $0 != source && $0 != target }.map { String($0.split(separator: ":").last!) }
        for port in [targetPort, sourcePort] + others {
            _ = try output("redis-cli", ["-p", port, "cluster", "setslot", "\(movingSlot)", "node", targetID])
        }
        // Every master agrees before the batch is sent with the client's old map, as after a finished resharding.
        let agreed = try await LocalStack.eventually(within: 10) {
            try ([targetPort, sourcePort] + others).allSatisfy { port in
                try master(ofSlot: movingSlot, askingPort: port) == target
            }
        }
        #expect(agreed, "the masters agree on the slot's new owner")
        let fallbacksBefore = RedisClusterMetrics.sketchBatchFallbacks.count
        try await sketches.add(
            [PlayKey(requestID: moving, day: day): [1, 2, 3], PlayKey(requestID: staying, day: day): [4, 5]], keepDays: 1)
        #expect(RedisClusterMetrics.sketchBatchFallbacks.count > fallbacksBefore, "the node refused the batch")
        #expect(try await sketches.counts(requestID: moving, days: [day])[day] == 3)
        #expect(try await sketches.counts(requestID: staying, days: [day])[day] == 2)
        // Key by key, each sketch still gets its lifetime in the same script as its viewers.
        for id in [moving, staying] {
            guard case .integer(let milliseconds) = try await client.send(.timeToLive(RedisViewerSketches.key(id, day))) else {
                Issue.record("PTTL of \(id)")
                continue
            }
            #expect(milliseconds > 0 && milliseconds <= 86_400_000, "PTTL \(milliseconds)")
        }
        await client.shutdown()
    }

    /// A slot moved from one master to another while commands keep coming: `ASK` while it migrates (the moved key
    /// is read from the target), `MOVED` once it has moved; no command fails or reads a wrong value.
    @Test(.enabled(if: clusterRunning, "needs deploy/local/redis-cluster (the test command starts it)"))
    func aSlotMigratedUnderLoadIsFollowedThroughAskAndMoved() async throws {
        let client = try RedisClient(
            url: try #require(LocalStack.clusterURL), cluster: true, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        let tag = "mig-\(UUID().uuidString)"
        let first = Array("usher:test:{\(tag)}:a".utf8)
        let second = Array("usher:test:{\(tag)}:b".utf8)
        _ = try await client.send(.set(first, Array("one".utf8), expireSeconds: 300))
        _ = try await client.send(.set(second, Array("two".utf8), expireSeconds: 300))
        let slot = ClusterSlot.of(first)
        let source = try master(ofSlot: slot)
        let target = try #require(try masters().first { $0 != source })
        let sourcePort = String(source.split(separator: ":").last!)
        let targetPort = String(target.split(separator: ":").last!)
        let sourceID = try output("redis-cli", ["-p", sourcePort, "cluster", "myid"])
        let targetID = try output("redis-cli", ["-p", targetPort, "cluster", "myid"])
        let movedBefore = RedisClusterMetrics.movedCount
        let askBefore = RedisClusterMetrics.askCount

        // Load: reads of both keys until told to stop, by future and by callback (the edge's read); every one must
        // answer its value.
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        @Sendable func read(_ key: [UInt8]) async -> Result<[UInt8]?, any Error> {
            await withCheckedContinuation { continuation in client.get(key, on: loop) { continuation.resume(returning: $0) } }
        }
        let stop = ManagedAtomicFlag()
        let load = Task {
            var failures: [String] = []
            var reads = 0
            while !stop.isSet {
                for (key, value) in [(first, "one"), (second, "two")] {
                    do {
                        let reply = try await client.send(.get(key))
                        if reply != .bulk(Array(value.utf8)) { failures.append("\(reply)") }
                    } catch { failures.append("\(error)") }
                    switch await read(key) {
                    case .success(let bytes) where bytes == Array(value.utf8): break
                    case let other: failures.append("by callback: \(other)")
                    }
                    reads += 2
                }
            }
            return (reads, failures)
        }

        _ = try output("redis-cli", ["-p", targetPort, "cluster", "setslot", "\(slot)", "importing", sourceID])
        _ = try output("redis-cli", ["-p", sourcePort, "cluster", "setslot", "\(slot)", "migrating", targetID])
        _ = try output(
            "redis-cli", ["-p", sourcePort, "migrate", "127.0.0.1", targetPort, "", "0", "5000", "keys", String(decoding: first, as: UTF8.self)])
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await client.send(.get(first)) == .bulk(Array("one".utf8)), "the moved key, through ASK")
        #expect(try await read(first).get() == Array("one".utf8), "the moved key, through ASK, by callback")
        _ = try output(
            "redis-cli", ["-p", sourcePort, "migrate", "127.0.0.1", targetPort, "", "0", "5000", "keys", String(decoding: second, as: UTF8.self)])
        // As `redis-cli --cluster reshard` does: the target first, then the source, then the other masters.
        let others = try masters().filter { $0 != source && $0 != target }.map { String($0.split(separator: ":").last!) }
        for port in [targetPort, sourcePort] + others {
            _ = try output("redis-cli", ["-p", port, "cluster", "setslot", "\(slot)", "node", targetID])
        }
        try await Task.sleep(for: .milliseconds(300))
        stop.set()
        let (reads, failures) = await load.value
        #expect(failures.isEmpty, "\(failures.count) of \(reads) reads failed: \(failures.prefix(3))")
        #expect(try await client.send(.get(second)) == .bulk(Array("two".utf8)))
        #expect(RedisClusterMetrics.askCount > askBefore, "ASK was seen")
        #expect(RedisClusterMetrics.movedCount > movedBefore, "MOVED was seen")
        await client.shutdown()
    }

    /// `REDIS_READ_FROM_REPLICAS`: reads are answered by the replicas (over `READONLY` connections) with the values
    /// written to the masters; writes and scripts stay on the masters.
    @Test(.enabled(if: clusterRunning, "needs deploy/local/redis-cluster (the test command starts it)"))
    func readsGoToReplicasWithTheSameAnswers() async throws {
        let client = try RedisClient(
            url: try #require(LocalStack.clusterURL), cluster: true, readFromReplicas: true, group: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "test"))
        let run = UUID().uuidString
        let keys = (0..<30).map { Array("usher:test:\(run):r\($0)".utf8) }
        for (index, key) in keys.enumerated() {
            #expect(try await client.send(.set(key, Array("v\(index)".utf8), expireSeconds: 60)) == .simpleString("OK"))
            // Replicated before it is read (replication is asynchronous): WAIT for one replica, 40 ms at a time (each
            // command has the client's 50 ms timeout).
            for _ in 0..<50 {
                let acknowledged = try await client.send(.other([Array("WAIT".utf8), Array("1".utf8), Array("40".utf8)], routedBy: key))
                if acknowledged == .integer(1) { break }
            }
        }
        let replicas = try clusterNodes().split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 2, fields[2].contains("slave"), !fields[2].contains("fail") else { return nil }
            return String(fields[1].split(separator: "@")[0].split(separator: ":").last!)
        }
        #expect(replicas.count == 3)
        func replicaGets() throws -> Int {
            try replicas.reduce(0) { total, port in
                let stats = try output("redis-cli", ["-p", port, "info", "commandstats"])
                let line = stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_get:") }
                let calls = line.flatMap { $0.split(separator: "=").dropFirst().first?.split(separator: ",").first }.flatMap { Int($0) } ?? 0
                return total + calls
            }
        }
        let before = try replicaGets()
        for (index, key) in keys.enumerated() {
            #expect(try await client.send(.get(key)) == .bulk(Array("v\(index)".utf8)))
        }
        let after = try replicaGets()
        #expect(after - before == keys.count, "every read answered by a replica: \(after - before) of \(keys.count), replicas \(replicas)")
        await client.shutdown()
    }

    /// A master killed with SIGKILL while a gateway serves its keys: the gateway answers every request (from Postgres
    /// while the slots have no master), its replica is promoted (`cluster-node-timeout` 2 s in the local cluster),
    /// and the gateway reads Redis again within 5 s of the promotion. The killed node then rejoins as a replica.
    @Test(.enabled(if: clusterRunning && LocalStack.usesRedisCluster, "needs the test command's Redis Cluster pass"))
    func aMasterKilledUnderLoadFailsOverWithNo5xx() async throws {
        let server = try await TestServer.start(["USHER_LOCAL_CACHE_TTL": "0"])
        var registered: [String] = []
        for _ in 0..<30 { registered.append(try await server.registerVideo(uniqueID("failover"))) }
        let ids = registered
        let token = try server.token(owner: "o")
        for id in ids { #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302) }
        let victim = try master(ofSlot: ClusterSlot.of(Array("usher:gen:\(ids[0])".utf8)))
        let victimPort = String(victim.split(separator: ":").last!)
        let victimIDs = try ids.filter { try master(ofSlot: ClusterSlot.of(Array("usher:gen:\($0)".utf8))) == victim }

        let stop = ManagedAtomicFlag()
        let load = Task {
            var statuses: [Int: Int] = [:]
            while !stop.isSet {
                for id in ids {
                    let status = (try? await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status) ?? -1
                    statuses[status, default: 0] += 1
                }
            }
            return statuses
        }
        try await Task.sleep(for: .milliseconds(300))
        try LocalStack.redisCluster("kill", victimPort)
        let killed = Date()
        // Promoted: another node owns the victim's slot.
        let promoted = try await LocalStack.eventually(within: 15) {
            (try? master(ofSlot: ClusterSlot.of(Array("usher:gen:\(ids[0])".utf8)))).map { $0 != victim } ?? false
        }
        #expect(promoted, "the replica was not promoted within 15 s")
        let promotedAt = Date()
        // Back on Redis: the victim's keys are read from Redis again (hits grow while only they are asked for).
        let before = try await redisHits(server)
        let back = try await LocalStack.eventually(within: 5) {
            for id in victimIDs { _ = try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)") }
            return try await redisHits(server) >= before + Double(victimIDs.count)
        }
        #expect(back, "the gateway did not read Redis again within 5 s of the promotion")
        let recovered = Date()
        stop.set()
        let statuses = await load.value
        #expect(statuses.keys.allSatisfy { $0 == 302 }, "every answer a 302 through the failover: \(statuses)")
        print(
            "failover: promoted \(String(format: "%.1f", promotedAt.timeIntervalSince(killed))) s after the kill, Redis read again "
                + "\(String(format: "%.1f", recovered.timeIntervalSince(promotedAt))) s after the promotion; answers \(statuses)")
        try await server.stop()
        try LocalStack.redisCluster("start")
    }

    func redisHits(_ server: TestServer) async throws -> Double {
        let metrics = String(decoding: try await TestHTTP.request(server.appURL + "/metrics").body, as: UTF8.self)
        let line = metrics.split(separator: "\n").first { $0.hasPrefix(#"usher_cache_lookups_total{layer="redis",result="hit"}"#) }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    /// The first seed's port, for `redis-cli`.
    var seedPort: String { LocalStack.clusterSeedPort ?? "7001" }

    /// The masters' `host:port`, from `CLUSTER NODES` of the first seed.
    func masters() throws -> [String] {
        let nodes = try clusterNodes()
        return nodes.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 2, fields[2].contains("master"), !fields[2].contains("fail") else { return nil }
            return String(fields[1].split(separator: "@")[0])
        }
    }

    /// `CLUSTER NODES` from the first of the six nodes that answers (one may have been killed), or from `port`.
    func clusterNodes(port: String? = nil) throws -> String {
        if let port { return try output("redis-cli", ["-p", port, "cluster", "nodes"]) }
        let first = Int(seedPort)!
        var lastError: (any Error)?
        for port in first..<(first + 6) {
            do { return try output("redis-cli", ["-p", "\(port)", "cluster", "nodes"]) } catch { lastError = error }
        }
        throw lastError!
    }

    /// The master that owns `slot`, as the first node that answers sees it, or as the node at `askingPort` does.
    func master(ofSlot slot: Int, askingPort: String? = nil) throws -> String {
        let nodes = try clusterNodes(port: askingPort)
        for line in nodes.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 8, fields[2].contains("master") else { continue }
            for range in fields[8...] where !range.hasPrefix("[") {
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                if bounds.count == 2, bounds[0] <= slot, slot <= bounds[1] { return String(fields[1].split(separator: "@")[0]) }
                if bounds.count == 1, bounds[0] == slot { return String(fields[1].split(separator: "@")[0]) }
            }
        }
        throw ProcessFailure(description: "no master owns slot \(slot)")
    }

    func output(_ program: String, _ arguments: [String]) throws -> String {
        String(decoding: try run(program, arguments), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A flag the load task polls.
final class ManagedAtomicFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
