public import Delivery
import Foundation
import Metrics
import NIOCore
import UsherCrypto

/// Viewer sketches in Redis: one HyperLogLog per generation and day under `usher:pv:{<id>}:<day>`. The hash tag
/// `{<id>}` keeps a generation's days on one node, so one script can merge them (PFCOUNT of several keys is the
/// distinct count of their union). A flush writes one EVAL per node and batch: on client-side shards or one Redis
/// with every key declared; on a cluster, where declared keys must share a slot, with the first declared and the
/// rest reached through `allow-cross-slot-keys` (`nodeAddScript`), key by key if the node refuses.
public struct RedisViewerSketches: ViewerSketches {
    public let client: RedisClient

    public init(client: RedisClient) { self.client = client }

    static func key(_ requestID: String, _ day: PlayDay) -> [UInt8] { Array("usher:pv:{\(requestID)}:\(day.number)".utf8) }

    static func temporaryKey(_ requestID: String, _ index: Int) -> [UInt8] { Array("usher:pv:{\(requestID)}:restore:\(index)".utf8) }

    static func dailyKeyName(_ day: PlayDay) -> [UInt8] { Array("usher:plays:key:\(day.number)".utf8) }

    /// A viewer hash as the sketch's element: its hex digits (the script's `PFADD` and the cluster's take the same).
    static func element(_ hash: UInt64) -> [UInt8] { Array(String(hash, radix: 16).utf8) }

    /// KEYS: one sketch per entry; ARGV: seconds to keep, then per key its count of hashes and the hashes.
    ///
    /// A sketch's lifetime is set when PFADD changes it (creating it counts), not on every flush: most of a flush's
    /// sketches gain no new viewer, and their EXPIRE was a third of the flush's Redis time (10,000 sketches of one
    /// viewer each: 18–22 ms of Redis CPU with it, 11–13 ms without). So a day's sketch lives `sketchDays` after the
    /// last flush that changed it; a viewer already counted, or one that moves no register, changes nothing. Every
    /// path writes a sketch through these scripts, PFADD and EXPIRE together. (A sketch left without a lifetime by
    /// an earlier version's key-by-key fallback, two separate commands, gets one the next time it changes.)
    static let addScript = """
        local ttl = ARGV[1]
        local a = 2
        for i = 1, #KEYS do
          local n = tonumber(ARGV[a])
          a = a + 1
          local j = 0
          local changed = 0
          while j < n do
            local k = math.min(n - j, 1000)
            changed = changed + redis.call('PFADD', KEYS[i], unpack(ARGV, a + j, a + j + k - 1))
            j = j + k
          end
          a = a + n
          if changed > 0 then redis.call('EXPIRE', KEYS[i], ttl) end
        end
        return #KEYS
        """

    /// KEYS: day sketches. Returns, per key, its distinct count, or -1 when the key is gone.
    static let countScript = """
        local out = {}
        for i = 1, #KEYS do
          if redis.call('EXISTS', KEYS[i]) == 1 then out[i] = redis.call('PFCOUNT', KEYS[i]) else out[i] = -1 end
        end
        return out
        """

    /// KEYS: n day sketches, then n temporary keys; ARGV: per day an archived sketch or ''. A live day counts as
    /// itself, a gone one through its archived sketch restored for the call.
    static let unionScript = """
        local n = #KEYS / 2
        local keys = {}
        for i = 1, n do
          if redis.call('EXISTS', KEYS[i]) == 1 then
            table.insert(keys, KEYS[i])
          elseif ARGV[i] ~= '' then
            redis.call('SET', KEYS[n + i], ARGV[i], 'PX', 10000)
            table.insert(keys, KEYS[n + i])
          end
        end
        local count = 0
        if #keys > 0 then count = redis.call('PFCOUNT', unpack(keys)) end
        for i = 1, n do redis.call('DEL', KEYS[n + i]) end
        return count
        """

    public func dailyKey(_ day: PlayDay) async throws -> [UInt8] {
        let name = Self.dailyKeyName(day)
        let candidate = Hex.encode(try SecureRandom.bytes(16))
        // Gone an hour after its day ends (late flushes still hash with it), never kept longer.
        let endOfDay = (Int64(day.number) + 1) * 86_400 + 3600
        let seconds = max(60, endOfDay - Int64(Date().timeIntervalSince1970))
        _ = try await client.send(.set(name, Array(candidate.utf8), expireSeconds: Int(seconds), onlyIfAbsent: true)).orThrow()
        guard case .bulk(let stored) = try await client.send(.get(name)).orThrow(), let key = Hex.decode(String(decoding: stored, as: UTF8.self))
        else { throw RedisError(.server, "the daily play key could not be read back") }
        return key
    }

    /// On a cluster: one script per master and batch, as `addScript` but with the sketches named in ARGV (`key`,
    /// count, hashes…) and only the first declared, for routing; `allow-cross-slot-keys` (Redis 7) lets it reach the
    /// others, which must be on the same node (else Redis refuses the call and the batch goes key by key).
    static let nodeAddScript = """
        #!lua flags=allow-cross-slot-keys
        local ttl = ARGV[1]
        local a = 2
        local keys = 0
        while a <= #ARGV do
          local key = ARGV[a]
          local n = tonumber(ARGV[a + 1])
          a = a + 2
          local j = 0
          local changed = 0
          while j < n do
            local k = math.min(n - j, 1000)
            changed = changed + redis.call('PFADD', key, unpack(ARGV, a + j, a + j + k - 1))
            j = j + k
          end
          a = a + n
          if changed > 0 then redis.call('EXPIRE', key, ttl) end
          keys = keys + 1
        end
        return keys
        """

    typealias Entry = (key: [UInt8], hashes: Set<UInt64>)

    public func add(_ viewers: [PlayKey: Set<UInt64>], keepDays: Int) async throws {
        let seconds = keepDays * 86_400
        var alone: [RedisCommand] = []
        if client.isCluster {
            // By master, not by slot: with thousands of generations nearly every key has a slot of its own, and a
            // PFADD and an EXPIRE per key was, in the load benchmark, a Redis command for every two to five plays
            // the gateway answered.
            var byMaster: [Int: [Entry]] = [:]
            for (playKey, hashes) in viewers where !hashes.isEmpty {
                let key = Self.key(playKey.requestID, playKey.day)
                if let master = client.clusterMaster(forKey: key) {
                    byMaster[master, default: []].append((key, hashes))
                } else {
                    alone.append(Self.keyByKey((key, hashes), seconds: seconds))
                }
            }
            for group in byMaster.values {
                for slice in Self.batches(group) {
                    var arguments: [[UInt8]] = [Array(String(seconds).utf8)]
                    for entry in slice {
                        arguments.append(entry.key)
                        arguments.append(Array(String(entry.hashes.count).utf8))
                        for hash in entry.hashes { arguments.append(Self.element(hash)) }
                    }
                    do {
                        _ = try await client.send(.eval(Self.nodeAddScript, keys: [slice.first!.key], arguments: arguments)).orThrow()
                    } catch {
                        // A slot moved since the map was read, or a Redis before 7 (no script flags): key by key,
                        // each command routed (and redirected) on its own. Adding the same hashes again is a no-op.
                        RedisClusterMetrics.sketchBatchFallbacks.increment()
                        for entry in slice { alone.append(Self.keyByKey(entry, seconds: seconds)) }
                    }
                }
            }
        } else {
            var groups: [Int: [Entry]] = [:]
            for (playKey, hashes) in viewers where !hashes.isEmpty {
                let key = Self.key(playKey.requestID, playKey.day)
                groups[client.keyGroup(forKey: key), default: []].append((key, hashes))
            }
            for group in groups.values {
                for slice in Self.batches(group) {
                    var arguments: [[UInt8]] = [Array(String(seconds).utf8)]
                    for entry in slice {
                        arguments.append(Array(String(entry.hashes.count).utf8))
                        for hash in entry.hashes { arguments.append(Self.element(hash)) }
                    }
                    _ = try await client.send(.eval(Self.addScript, keys: slice.map(\.key), arguments: arguments)).orThrow()
                }
            }
        }
        // Windows of 256 commands in flight: a few writes per node each, and the gateway's GETs in between. The task
        // waits once per window: awaiting each reply resumed it once per reply, a thread woken on the gateway's core
        // for every key (0.29 context switches per request at 20k req/s, in the load benchmark's counts).
        let loop = client.anyEventLoop
        var next = 0
        while next < alone.count {
            let window = alone[next..<min(next + 256, alone.count)]
            let replies = try await EventLoopFuture.whenAllSucceed(window.map { client.send($0, on: loop) }, on: loop).get()
            for reply in replies { _ = try reply.orThrow() }
            next += window.count
        }
    }

    /// One sketch's `addScript`, routed (and redirected) on its own key: its PFADD and its lifetime stay in one script.
    static func keyByKey(_ entry: Entry, seconds: Int) -> RedisCommand {
        .eval(
            addScript, keys: [entry.key],
            arguments: [Array(String(seconds).utf8), Array(String(entry.hashes.count).utf8)] + entry.hashes.map(Self.element))
    }

    /// Bounded scripts: at most 500 keys or about 50,000 hashes each.
    static func batches(_ group: [Entry]) -> [ArraySlice<Entry>] {
        var slices: [ArraySlice<Entry>] = []
        var start = 0
        while start < group.count {
            var end = start
            var hashes = 0
            while end < group.count, end - start < 500, hashes < 50_000 {
                hashes += group[end].hashes.count
                end += 1
            }
            slices.append(group[start..<end])
            start = end
        }
        return slices
    }

    public func counts(requestID: String, days: [PlayDay]) async throws -> [PlayDay: Int] {
        guard !days.isEmpty else { return [:] }
        let reply = try await client.send(.eval(Self.countScript, keys: days.map { Self.key(requestID, $0) })).orThrow()
        guard case .array(let values) = reply, values.count == days.count else { throw RedisError(.protocolError, "unexpected PFCOUNT reply") }
        var counts: [PlayDay: Int] = [:]
        for (day, value) in zip(days, values) {
            if case .integer(let count) = value, count >= 0 { counts[day] = Int(count) }
        }
        return counts
    }

    public func union(requestID: String, days: [PlayDay], archived: [PlayDay: [UInt8]]) async throws -> Int {
        guard !days.isEmpty else { return 0 }
        let keys = days.map { Self.key(requestID, $0) } + days.indices.map { Self.temporaryKey(requestID, $0) }
        let arguments = days.map { archived[$0] ?? [] }
        let reply = try await client.send(.eval(Self.unionScript, keys: keys, arguments: arguments)).orThrow()
        guard case .integer(let count) = reply else { throw RedisError(.protocolError, "unexpected PFCOUNT reply") }
        return Int(count)
    }

    public func export(_ key: PlayKey) async throws -> [UInt8]? {
        guard case .bulk(let bytes) = try await client.send(.get(Self.key(key.requestID, key.day))).orThrow() else { return nil }
        return bytes
    }
}
