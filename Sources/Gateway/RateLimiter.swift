import Metrics
public import NIOCore
public import Redis
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

    /// Takes one token from the bucket `key` (`ip:…` or `sub:…`), in Redis when the buckets are shared (falling back
    /// to the local bucket when Redis cannot answer), else locally. `now`: monotonic seconds, for the local buckets
    /// only; the shared script reads the Redis server's clock, so hosts with different uptimes agree.
    func take(_ key: String, now: Double, on loop: any EventLoop) -> EventLoopFuture<Decision> {
        guard isEnabled else { return loop.makeSucceededFuture(.allowed) }
        guard let redis else { return loop.makeSucceededFuture(count(takeLocally([key], now: now), key: key)) }
        let interval = 1000 / configuration.rate
        // One key per call, so the call goes to the node that owns that key (sharded or not).
        let command = RedisCommand.eval(
            Self.gcraScript, keys: [Array("usher:rl:\(key)".utf8)],
            arguments: [Array(String(interval).utf8), Array(String(interval * configuration.burst).utf8)])
        return redis.send(command, on: loop).map { reply -> Decision in
            guard case .integer(let waitMilliseconds) = reply else { return self.count(self.takeLocally([key], now: now), key: key) }
            let decision: Decision =
                waitMilliseconds <= 0 ? .allowed : .limited(retryAfter: max(1, Int((Double(waitMilliseconds) / 1000).rounded(.up))))
            return self.count(decision, key: key)
        }.recover { _ in self.count(self.takeLocally([key], now: now), key: key) }
    }

    /// The synchronous path (in-process buckets), for callers that must not wait; counted in the metrics.
    func takeLocally(_ key: String, now: Double) -> Decision {
        count(takeLocally([key], now: now), key: key)
    }

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

    private func count(_ decision: Decision, key: String) -> Decision {
        if decision != .allowed { (key.hasPrefix("sub:") ? refusedSubject : refusedIP).increment() }
        return decision
    }

    /// Drops buckets that have refilled (their clients went quiet); forgets them all if that is not enough, which
    /// only ever errs towards letting requests through.
    private func evictFull(_ buckets: inout [String: Bucket], now: Double) {
        buckets = buckets.filter { $0.value.tokens + (now - $0.value.updated) * configuration.rate < configuration.burst }
        if buckets.count > shardCapacity { buckets.removeAll(keepingCapacity: true) }
    }

    /// GCRA over KEYS[1]: ARGV emission interval (ms), tolerance (ms = interval × burst). The time is the Redis
    /// server's (`TIME`), never a host's: monotonic clocks of two hosts start at their boots and do not agree.
    /// Returns 0 when allowed (and records the request), else the milliseconds to wait.
    static let gcraScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1])) or now
        if tat < now then tat = now end
        local next = tat + interval
        local over = next - now - tolerance
        if over > 0 then return math.ceil(over) end
        redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil(next - now))
        return 0
        """
}
