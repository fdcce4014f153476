/// The durable daily play rows (Postgres's `plays_daily`), as `Plays` uses them.
public protocol PlayLedger: Sendable {
    /// Adds each batch's counts to its day's row (created at zero), in one transaction.
    func add(_ counts: [PlayKey: PlayCounts]) async throws

    /// The stored days of one generation within `from...to`.
    func rows(requestID: String, from: PlayDay, to: PlayDay) async throws -> [PlayRow]

    /// Days counted since their viewers were last rolled up, oldest first.
    func pendingRollUp(limit: Int) async throws -> [PendingRollUp]

    /// Stores the day's distinct viewers and their sketch (nil: Redis no longer has it; the count stays). The day
    /// leaves the list only if it was not counted again since `pending` was read.
    func rolledUp(_ pending: PendingRollUp, viewers: Int, sketch: [UInt8]?) async throws

    /// Puts back on the list the recent days counted since their roll-up by a writer that did not list them (a
    /// gateway older than this ledger, during a rolling deploy); returns how many.
    func requeueMissed() async throws -> Int

    /// Drops rows of days older than `days`; returns how many.
    func purge(olderThanDays days: Int) async throws -> Int
}

/// A day waiting for its roll-up, as the ledger last saw it.
public struct PendingRollUp: Hashable, Sendable {
    public let key: PlayKey
    /// Which write of the day's row was seen: a flush after it keeps the day on the list.
    public let version: String

    public init(key: PlayKey, version: String) {
        self.key = key
        self.version = version
    }
}

/// Distinct viewers per generation and day as HyperLogLog sketches (Redis's PFADD/PFCOUNT in production), and the
/// daily secret the viewer hashes are keyed with, shared by every instance so one viewer counts once.
public protocol ViewerSketches: Sendable {
    /// The day's 16-byte key: created by the first instance that asks, kept two days, then gone.
    func dailyKey(_ day: PlayDay) async throws -> [UInt8]

    /// Adds viewer hashes to each day's sketch (kept `keepDays`).
    func add(_ viewers: [PlayKey: Set<UInt64>], keepDays: Int) async throws

    /// Distinct viewers per day, for the days whose sketch is still live (absent days are missing from the answer).
    func counts(requestID: String, days: [PlayDay]) async throws -> [PlayDay: Int]

    /// Distinct viewers over `days`: live sketches, and `archived` ones (from the roll-up) for days no longer live.
    func union(requestID: String, days: [PlayDay], archived: [PlayDay: [UInt8]]) async throws -> Int

    /// The day's sketch as bytes, for the roll-up; nil when it is not live.
    func export(_ key: PlayKey) async throws -> [UInt8]?
}
