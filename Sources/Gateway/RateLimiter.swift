import Metrics
public import NIOCore
public import RedisClient
import Synchronization

/// Per-viewer (`sub`) and per-client-IP limits for `/v` and `/s` (`USHER_RATE_LIMIT_RPS`, `_BURST`): token buckets
/// that refill at `rate` per second up to `burst`. Over the limit: 429 with `Retry-After`.
///
/// In-process by default (each instance limits on its own: with N instances behind a balancer a client gets up to
/// N × the rate). With `USHER_RATE_LIMIT_REDIS=1` the buckets live in Redis (GCRA in one Lua script per request,
/// the same arithmetic as the local buckets), shared by every instance; if Redis cannot answer, the local buckets
/// decide, so a Redis outage never refuses everyone.
public final class RateLimiter: Sendable {
    public struct Configuration: Sendable {
        /// Tokens per second per key; 0 turns limiting off.
        public var rate: Double
        /// Bucket size: requests a quiet client may send at once. Default 2 × rate.
        public var burst: Double
        /// Share the buckets through Redis.
        public var shared: Bool

        public init(rate: Double, burst: Double? = nil, shared: Bool = false) {
            self.rate = rate
            self.burst = max(1, burst ?? 2 * rate)
            self.shared = shared
        }
    }

    public enum Decision: Equatable, Sendable {
        case allowed
        /// Seconds until a request would be allowed (at least 1).
        case limited(retryAfter: Int)
    }

    let configuration: Configuration
    private let redis: RedisClient?
    private let shards: [Shard]
    /// Buckets per shard before idle ones are dropped.
    private let shardCapacity = 16_384
    private let refusedIP = Counter(label: "usher_rate_limited_total", dimensions: [("key", "ip")])
    private let refusedSubject = Counter(label: "usher_rate_limited_total", dimensions: [("key", "sub")])

    struct Bucket {
        var tokens: Double
        var updated: Double
    }

    /// One lock per slice of the keys, so event loops rarely wait for each other.
    final class Shard: Sendable {
        let buckets = Mutex<[String: Bucket]>([:])
    }

    public init(configuration: Configuration, redis: RedisClient?) {
        self.configuration = configuration
        self.redis = configuration.shared ? redis : nil
        self.shards = (0..<16).map { _ in Shard() }
    }

    public var isEnabled: Bool { configuration.rate > 0 }

    /// Takes one token for each key (`ip:…`, `sub:…`); limited if any bucket is empty. `now` in seconds.
    func take(ip: String?, subject: String?, now: Double, on loop: any EventLoop) -> EventLoopFuture<Decision> {
        let keys = [ip.map { "ip:" + $0 }, subject.map { "sub:" + $0 }].compactMap { $0 }
        guard isEnabled, !keys.isEmpty else { return loop.makeSucceededFuture(.allowed) }
        guard let redis else { return loop.makeSucceededFuture(count(takeLocally(keys, now: now), subject: subject)) }
        let interval = 1000 / configuration.rate
        let arguments: [[UInt8]] =
            [Array("EVAL".utf8), Array(Self.gcraScript.utf8), Array(String(keys.count).utf8)]
            + keys.map { Array("usher:rl:\($0)".utf8) }
            + [Array(String(Int64(now * 1000)).utf8), Array(String(interval).utf8), Array(String(interval * configuration.burst).utf8)]
        return redis.send(arguments, on: loop).map { reply -> Decision in
            guard case .integer(let waitMilliseconds) = reply else { return self.count(self.takeLocally(keys, now: now), subject: subject) }
            return self.count(waitMilliseconds <= 0 ? .allowed : .limited(retryAfter: max(1, Int((Double(waitMilliseconds) / 1000).rounded(.up)))), subject: subject)
        }.recover { _ in self.count(self.takeLocally(keys, now: now), subject: subject) }
    }

    /// The synchronous path (in-process buckets), for callers that must not wait.
    func takeLocally(_ keys: [String], now: Double) -> Decision {
        var wait = 0.0
        for key in keys {
            let shard = shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
            let keyWait = shard.buckets.withLock { buckets -> Double in
                var bucket = buckets[key] ?? Bucket(tokens: configuration.burst, updated: now)
                bucket.tokens = min(configuration.burst, bucket.tokens + (now - bucket.updated) * configuration.rate)
                bucket.updated = now
                var result = 0.0
                if bucket.tokens >= 1 {
                    bucket.tokens -= 1
                } else {
                    result = (1 - bucket.tokens) / configuration.rate
                }
                buckets[key] = bucket
                if buckets.count > shardCapacity { evictFull(&buckets, now: now) }
                return result
            }
            wait = max(wait, keyWait)
        }
        return wait > 0 ? .limited(retryAfter: max(1, Int(wait.rounded(.up)))) : .allowed
    }

    private func count(_ decision: Decision, subject: String?) -> Decision {
        if decision != .allowed { (subject == nil ? refusedIP : refusedSubject).increment() }
        return decision
    }

    /// Drops buckets that have refilled (their clients went quiet); forgets them all if that is not enough, which
    /// only ever errs towards letting requests through.
    private func evictFull(_ buckets: inout [String: Bucket], now: Double) {
        buckets = buckets.filter { $0.value.tokens + (now - $0.value.updated) * configuration.rate < configuration.burst }
        if buckets.count > shardCapacity { buckets.removeAll(keepingCapacity: true) }
    }

    /// GCRA over every key: ARGV now (ms), emission interval (ms), tolerance (ms = interval × burst). Returns 0 when
    /// allowed (and records the request on every key), else the milliseconds to wait.
    static let gcraScript = """
        local now, interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
        local wait, next = 0, {}
        for i, key in ipairs(KEYS) do
          local tat = tonumber(redis.call('GET', key)) or now
          if tat < now then tat = now end
          next[i] = tat + interval
          local over = next[i] - now - tolerance
          if over > wait then wait = over end
        end
        if wait > 0 then return math.ceil(wait) end
        for i, key in ipairs(KEYS) do
          redis.call('SET', key, string.format('%.0f', next[i]), 'PX', math.ceil(next[i] - now))
        end
        return 0
        """
}
