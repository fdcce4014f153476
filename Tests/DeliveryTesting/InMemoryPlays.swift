public import Delivery
import Synchronization

/// The play rows as a dictionary, for tests without Postgres.
public final class InMemoryPlayLedger: PlayLedger {
    private let rows = Mutex<[PlayKey: PlayRow]>([:])
    /// Days waiting for the roll-up, with the number of their latest write.
    private let pending = Mutex<[PlayKey: Int]>([:])
    private let available = Atomic<Bool>(true)

    public init() {}

    public var isAvailable: Bool {
        get { available.load(ordering: .relaxed) }
        set { available.store(newValue, ordering: .relaxed) }
    }

    public func add(_ counts: [PlayKey: PlayCounts]) async throws {
        guard isAvailable else { throw InMemoryStore.Unavailable() }
        rows.withLock { rows in
            for (key, value) in counts {
                var row = rows[key] ?? PlayRow(day: key.day, counts: PlayCounts(), viewers: 0, sketch: nil)
                row.counts.plays += value.plays
                row.counts.sharePlays += value.sharePlays
                rows[key] = row
            }
        }
        pending.withLock { pending in
            for key in counts.keys { pending[key, default: 0] += 1 }
        }
    }

    public func rows(requestID: String, from: PlayDay, to: PlayDay) async throws -> [PlayRow] {
        rows.withLock {
            $0.filter { $0.key.requestID == requestID && $0.key.day >= from && $0.key.day <= to }.map(\.value).sorted { $0.day < $1.day }
        }
    }

    public func pendingRollUp(limit: Int) async throws -> [PendingRollUp] {
        pending.withLock { pending in
            pending.sorted { $0.key.day < $1.key.day }.prefix(limit).map { PendingRollUp(key: $0.key, version: String($0.value)) }
        }
    }

    public func rolledUp(_ rolled: PendingRollUp, viewers: Int, sketch: [UInt8]?) async throws {
        rows.withLock { rows in
            guard sketch != nil else { return }
            rows[rolled.key]?.viewers = viewers
            rows[rolled.key]?.sketch = sketch
        }
        pending.withLock { pending in
            if pending[rolled.key].map(String.init) == rolled.version { pending[rolled.key] = nil }
        }
    }

    public func requeueMissed() async throws -> Int { 0 }

    public func purge(olderThanDays days: Int) async throws -> Int { 0 }
}

/// Viewer sketches as exact sets, for tests without Redis: what a HyperLogLog estimates, these count.
public final class InMemorySketches: ViewerSketches {
    private let sets = Mutex<[PlayKey: Set<UInt64>]>([:])
    private let available = Atomic<Bool>(true)

    public init() {}

    public var isAvailable: Bool {
        get { available.load(ordering: .relaxed) }
        set { available.store(newValue, ordering: .relaxed) }
    }

    /// Forgets a day, as Redis does when its sketch expires.
    public func expire(_ key: PlayKey) { _ = sets.withLock { $0.removeValue(forKey: key) } }

    public func dailyKey(_ day: PlayDay) async throws -> [UInt8] {
        guard isAvailable else { throw InMemoryStore.Unavailable() }
        return Array(repeating: UInt8(truncatingIfNeeded: day.number), count: 16)
    }

    public func add(_ viewers: [PlayKey: Set<UInt64>], keepDays: Int) async throws {
        guard isAvailable else { throw InMemoryStore.Unavailable() }
        sets.withLock { sets in for (key, hashes) in viewers { sets[key, default: []].formUnion(hashes) } }
    }

    public func counts(requestID: String, days: [PlayDay]) async throws -> [PlayDay: Int] {
        guard !days.isEmpty else { return [:] }
        guard isAvailable else { throw InMemoryStore.Unavailable() }
        return sets.withLock { sets in
            var counts: [PlayDay: Int] = [:]
            for day in days { if let set = sets[PlayKey(requestID: requestID, day: day)] { counts[day] = set.count } }
            return counts
        }
    }

    /// An archived "sketch" here is the set's hashes, 8 bytes each.
    public func union(requestID: String, days: [PlayDay], archived: [PlayDay: [UInt8]]) async throws -> Int {
        guard isAvailable else { throw InMemoryStore.Unavailable() }
        return sets.withLock { sets in
            var all: Set<UInt64> = []
            for day in days {
                if let set = sets[PlayKey(requestID: requestID, day: day)] {
                    all.formUnion(set)
                } else if let bytes = archived[day] {
                    for start in stride(from: 0, to: bytes.count - 7, by: 8) {
                        all.insert(bytes[start..<(start + 8)].reduce(0) { $0 << 8 | UInt64($1) })
                    }
                }
            }
            return all.count
        }
    }

    public func export(_ key: PlayKey) async throws -> [UInt8]? {
        sets.withLock { sets in
            sets[key].map { set in set.flatMap { hash in (0..<8).reversed().map { UInt8(truncatingIfNeeded: hash >> (8 * UInt64($0))) } } }
        }
    }
}

/// Sketches (the in-memory ones unless told) with the number of (generation-day, viewer) pairs of every `add` kept,
/// refused ones too.
public final class RecordingSketches: ViewerSketches {
    private let inner: any ViewerSketches
    private let memory: InMemorySketches?
    private let sizes = Mutex<[Int]>([])

    public init(_ inner: (any ViewerSketches)? = nil) {
        if let inner {
            self.inner = inner
            memory = nil
        } else {
            let memory = InMemorySketches()
            self.inner = memory
            self.memory = memory
        }
    }

    public var adds: [Int] { sizes.withLock { $0 } }

    /// The in-memory store's switch (the only one this can turn off).
    public var isAvailable: Bool {
        get { memory?.isAvailable ?? true }
        set { memory?.isAvailable = newValue }
    }

    public func dailyKey(_ day: PlayDay) async throws -> [UInt8] { try await inner.dailyKey(day) }

    public func add(_ viewers: [PlayKey: Set<UInt64>], keepDays: Int) async throws {
        sizes.withLock { $0.append(viewers.values.reduce(0) { $0 + $1.count }) }
        try await inner.add(viewers, keepDays: keepDays)
    }

    public func counts(requestID: String, days: [PlayDay]) async throws -> [PlayDay: Int] {
        try await inner.counts(requestID: requestID, days: days)
    }

    public func union(requestID: String, days: [PlayDay], archived: [PlayDay: [UInt8]]) async throws -> Int {
        try await inner.union(requestID: requestID, days: days, archived: archived)
    }

    public func export(_ key: PlayKey) async throws -> [UInt8]? { try await inner.export(key) }
}
