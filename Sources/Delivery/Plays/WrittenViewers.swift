/// The (generation-day, viewer) pairs this instance has already added to a viewers' sketch, so that a viewer who plays
/// the same generation again that day is not sent to the sketches' store again.
///
/// Adding a viewer a sketch already holds changes none of its registers: the write is pure cost, and on a busy
/// gateway most of a flush's viewers are such repeats (in the load benchmark, all of them after the first flush:
/// 10,000 generation-days of one viewer each, every 2 s, were 0.3 µs of Redis's CPU per request on the gateway's core;
/// README § Benchmarks: What each cut bought, da55444).
///
/// What is remembered is a 64-bit fingerprint per pair, not the pair: a new pair is taken for a written one with a
/// chance of `count ÷ 2⁶⁴` (10⁻¹⁴ at the default bound), which leaves one viewer out of an estimate whose standard
/// error is 0.81 % anyway. Forgetting is always safe (the pair is sent again, and the sketch ignores it), so the memory
/// is bounded by dropping everything:
/// - when it holds `capacity` fingerprints;
/// - every `lifetime`: a sketch lost in the store (a Redis restart without persistence) is refilled by the next plays
///   of its viewers after at most that long, instead of staying short for the rest of the day.
///
/// Not synchronized: `Plays` holds it behind its lock, and only its one flush at a time uses it.
struct WrittenViewers {
    /// Fingerprints held at most; 0 remembers nothing (every viewer is sent with every flush, as before).
    let capacity: Int
    let lifetime: Duration
    private var fingerprints: Set<UInt64> = []
    private var since: ContinuousClock.Instant

    init(capacity: Int, lifetime: Duration, now: ContinuousClock.Instant = .now) {
        self.capacity = max(0, capacity)
        self.lifetime = lifetime
        since = now
    }

    var count: Int { fingerprints.count }

    /// A generation-day's part of its pairs' fingerprints: one string hash per generation-day, not one per viewer.
    ///
    /// A viewer's hash is a keyed SipHash (its bits are uniform), so XOR-ing it in keeps the pairs' fingerprints apart
    /// as well as hashing the pair would.
    static func seed(_ key: PlayKey) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(key)
        return UInt64(truncatingIfNeeded: hasher.finalize())
    }

    /// `viewers` less those already written for `key`; nil when that leaves none.
    mutating func unwritten(_ viewers: Set<UInt64>, of key: PlayKey, now: ContinuousClock.Instant = .now) -> Set<UInt64>? {
        expire(now: now)
        guard capacity > 0, !fingerprints.isEmpty else { return viewers.isEmpty ? nil : viewers }
        let seed = Self.seed(key)
        // The common case on a steady load: every viewer is a repeat, and nothing is copied.
        guard viewers.contains(where: { !fingerprints.contains(seed ^ $0) }) else { return nil }
        return viewers.filter { !fingerprints.contains(seed ^ $0) }
    }

    /// Notes what a store has taken. Called only after the write succeeded: a viewer whose write failed is sent again.
    mutating func remember(_ written: [PlayKey: Set<UInt64>], now: ContinuousClock.Instant = .now) {
        expire(now: now)
        guard capacity > 0 else { return }
        for (key, viewers) in written {
            let seed = Self.seed(key)
            for viewer in viewers {
                if fingerprints.count >= capacity { fingerprints.removeAll(keepingCapacity: true) }
                fingerprints.insert(seed ^ viewer)
            }
        }
    }

    private mutating func expire(now: ContinuousClock.Instant) {
        guard now - since >= lifetime else { return }
        fingerprints.removeAll(keepingCapacity: true)
        since = now
    }
}
