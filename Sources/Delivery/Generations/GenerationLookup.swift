import Metrics
public import NIOCore
import Synchronization

/// What the lookup chain knows about an id.
public enum LookupOutcome: Sendable, Equatable {
    case found(DeliveryRecord)
    /// No such generation (possibly from a negative cache entry).
    case absent
    /// Neither Redis nor Postgres could answer.
    case unavailable
}

/// The read path for `/v/{id}`: in-process cache → Redis → Postgres, filling the layers above on the way back.
///
/// - The in-process cache is per event loop (no locks) and short-lived (`localTTL`), so writes elsewhere show
///   within that time even without invalidation.
/// - Unknown ids are cached too (`negativeTTL` in Redis, `localTTL` here), so a flood of random ids costs one
///   Postgres query per id and period, not per request.
/// - Concurrent Postgres misses for one id share one query, whichever loops they come from.
/// - Redis down: Postgres answers (and nothing is written back); Postgres down: Redis still answers.
public final class GenerationLookup: Sendable {
    public struct Configuration: Sendable {
        /// In-process TTL; zero turns the in-process cache off. Default 2 s (`USHER_LOCAL_CACHE_TTL`).
        public var localTTL: Duration = .seconds(2)
        /// Entries per process (`USHER_LOCAL_CACHE_SIZE`), split over the event loops. Default 100,000.
        public var localCapacity: Int = 100_000
        /// How long Redis remembers a found record. Default 1 day; writers refresh or delete it.
        public var positiveTTL: Int = 86_400
        /// How long Redis remembers an unknown id. Default 30 s.
        public var negativeTTL: Int = 30
        /// How long a read-through remembers a PENDING or MIRRORING record. Default 10 s.
        public var transientTTL: Int = 10

        public init() {}
    }

    let configuration: Configuration
    let cache: any KeyValueCache
    let store: any GenerationStorage
    private let caches: [ObjectIdentifier: LoopBound<LocalCache<LookupOutcome>>]
    private let inFlight = Mutex<[String: EventLoopFuture<DeliveryRecord?>]>([:])
    private let metrics = LookupMetrics()

    public init(configuration: Configuration, cache: any KeyValueCache, store: any GenerationStorage, group: any EventLoopGroup) {
        self.configuration = configuration
        self.cache = cache
        self.store = store
        var caches: [ObjectIdentifier: LoopBound<LocalCache<LookupOutcome>>] = [:]
        let loops = Array(group.makeIterator())
        for loop in loops {
            caches[ObjectIdentifier(loop)] = LoopBound(LocalCache(capacity: configuration.localCapacity / max(1, loops.count)), eventLoop: loop)
        }
        self.caches = caches
    }

    private var localEnabled: Bool { configuration.localTTL > .zero }

    /// The in-process answer, if any; must be called on `loop`. Lets the edge handler answer without a future.
    public func cached(_ id: Substring, on loop: any EventLoop) -> LookupOutcome? {
        guard localEnabled, let cache = caches[ObjectIdentifier(loop)]?.value else { return nil }
        let outcome = cache.get(id, now: .now())
        metrics.local(hit: outcome != nil)
        return outcome
    }

    /// The full chain below the in-process cache; completes on `loop`.
    ///
    /// One promise and one callback: with the in-process cache off every request comes this way, and chaining
    /// `flatMap`, `makeSucceededFuture` and `flatMapError` cost three more futures and two closures each time.
    public func resolve(_ id: String, on loop: any EventLoop) -> EventLoopFuture<LookupOutcome> {
        let promise = loop.makePromise(of: LookupOutcome.self)
        resolve(id[...], on: loop) { promise.succeed($0) }
        return promise.futureResult
    }

    /// The same chain, calling `completion` on `loop` with the outcome (it never fails: a store that cannot answer
    /// is `.unavailable`). The edge decides its answer inside `completion`, so a `/v` that waits for Redis makes one
    /// future fewer than it would by mapping the future above. `id` may be the slice of a request's URL: it is copied
    /// only where it is kept (the in-process cache, a read from Postgres).
    public func resolve(_ id: Substring, on loop: any EventLoop, completion: @escaping @Sendable (LookupOutcome) -> Void) {
        cache.get(DeliveryRecord.cacheKey(id), on: loop) { result in
            // A cache that answers on another thread (not one of this group's loops) is brought back to `loop`.
            guard loop.inEventLoop else {
                loop.execute { self.completeLookup(id, result, on: loop, completion: completion) }
                return
            }
            self.completeLookup(id, result, on: loop, completion: completion)
        }
    }

    private func completeLookup(
        _ id: Substring, _ result: Result<[UInt8]?, any Error>, on loop: any EventLoop, completion: @escaping @Sendable (LookupOutcome) -> Void
    ) {
        guard case .success(let value) = result else {
            metrics.redisError()
            readThrough(String(id), on: loop, fillRedis: false, then: completion)
            return
        }
        // An entry that does not decode (another version's encoding) is a miss: Postgres answers.
        let cached: LookupOutcome? = value.flatMap { value in
            value == CacheMarker.absent ? .absent : DeliveryRecord(cacheValue: value).map { .found($0) }
        }
        guard let cached else {
            metrics.redis(hit: false)
            readThrough(String(id), on: loop, fillRedis: true, then: completion)
            return
        }
        metrics.redis(hit: true)
        completion(remember(cached, id, on: loop))
    }

    /// The read-through's outcome to `completion`, and `.unavailable` should it ever fail: the caller's promise (the
    /// edge's answer) must not be left open.
    private func readThrough(
        _ id: String, on loop: any EventLoop, fillRedis: Bool, then completion: @escaping @Sendable (LookupOutcome) -> Void
    ) {
        readThrough(id, on: loop, fillRedis: fillRedis).whenComplete { completion((try? $0.get()) ?? .unavailable) }
    }

    /// Never fails: a Postgres error is `.unavailable`.
    private func readThrough(_ id: String, on loop: any EventLoop, fillRedis: Bool) -> EventLoopFuture<LookupOutcome> {
        let (shared, started): (EventLoopFuture<DeliveryRecord?>, Bool) = inFlight.withLock { running in
            if let future = running[id] { return (future, false) }
            let future = store.delivery(id, on: loop)
            running[id] = future
            return (future, true)
        }
        // Registered outside the lock: a future that already failed (pool shut down) runs this inline.
        if started { shared.whenComplete { _ in _ = self.inFlight.withLock { $0.removeValue(forKey: id) } } }
        return shared.hop(to: loop).map { record in
            self.metrics.postgres(found: record != nil)
            let outcome: LookupOutcome = record.map { .found($0) } ?? .absent
            if fillRedis { self.fillRedis(id, outcome, on: loop) }
            return self.remember(outcome, id, on: loop)
        }.recover { _ in
            self.metrics.postgresError()
            return .unavailable
        }
    }

    private func remember(_ outcome: LookupOutcome, _ id: some StringProtocol, on loop: any EventLoop) -> LookupOutcome {
        if localEnabled, let cache = caches[ObjectIdentifier(loop)]?.value {
            cache.set(String(id), outcome, expires: .now() + TimeAmount(configuration.localTTL))
        }
        return outcome
    }

    /// A read-through fill never overwrites (`NX`): a writer's refresh that landed first is newer than what this
    /// reader saw. States that will change soon (PENDING, MIRRORING, unknown) are kept briefly.
    private func fillRedis(_ id: String, _ outcome: LookupOutcome, on loop: any EventLoop) {
        let value: [UInt8]
        let ttl: Int
        switch outcome {
        case .found(let record):
            value = record.cacheValue
            ttl = [.completed, .failed, .deleted].contains(record.status) ? configuration.positiveTTL : configuration.transientTTL
        case .absent:
            value = CacheMarker.absent
            ttl = configuration.negativeTTL
        case .unavailable:
            return
        }
        _ = cache.set(DeliveryRecord.cacheKey(id), value, expireSeconds: ttl, onlyIfAbsent: true, on: loop)
    }

    /// After a write (by `Generations` only): the shared cache gets the new record (or forgets the id) and every
    /// loop drops its copy.
    func refresh(_ id: String, record: DeliveryRecord?) async {
        if let record {
            try? await cache.set(DeliveryRecord.cacheKey(id), record.cacheValue, expireSeconds: configuration.positiveTTL)
        } else {
            try? await cache.delete(DeliveryRecord.cacheKey(id))
        }
        forgetLocally(id)
    }

    /// Drops the id from every loop's in-process cache.
    func forgetLocally(_ id: String) {
        for cache in caches.values { cache.eventLoop.execute { cache.value.remove(id) } }
    }
}

/// Cache hits by layer, for `/metrics`.
struct LookupMetrics: Sendable {
    private let localHit = Counter(label: "usher_cache_lookups_total", dimensions: [("layer", "local"), ("result", "hit")])
    private let localMiss = Counter(label: "usher_cache_lookups_total", dimensions: [("layer", "local"), ("result", "miss")])
    private let redisHit = Counter(label: "usher_cache_lookups_total", dimensions: [("layer", "redis"), ("result", "hit")])
    private let redisMiss = Counter(label: "usher_cache_lookups_total", dimensions: [("layer", "redis"), ("result", "miss")])
    private let redisFailure = Counter(label: "usher_cache_lookups_total", dimensions: [("layer", "redis"), ("result", "error")])
    private let postgresFound = Counter(label: "usher_cache_lookups_total", dimensions: [("layer", "postgres"), ("result", "hit")])
    private let postgresAbsent = Counter(label: "usher_cache_lookups_total", dimensions: [("layer", "postgres"), ("result", "miss")])
    private let postgresFailure = Counter(label: "usher_cache_lookups_total", dimensions: [("layer", "postgres"), ("result", "error")])

    func local(hit: Bool) { (hit ? localHit : localMiss).increment() }
    func redis(hit: Bool) { (hit ? redisHit : redisMiss).increment() }
    func redisError() { redisFailure.increment() }
    func postgres(found: Bool) { (found ? postgresFound : postgresAbsent).increment() }
    func postgresError() { postgresFailure.increment() }
}
