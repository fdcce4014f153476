import Foundation
public import Logging
import Metrics
public import NIOCore
public import ServiceLifecycle
import Synchronization
import UsherCrypto

/// Play analytics: every 302 of `GET /v` or `GET /s` counts, per generation and UTC day, as `plays` (exact),
/// `viewers` (distinct, HyperLogLog) and `share_plays`.
///
/// - The edge records on its event loop into that loop's `PlayBatch`: a dictionary update and a keyed hash, no lock
///   and no I/O. A redirect never waits on counting.
/// - Every `flushInterval` the batches are swapped out and merged here; counts go to the ledger (Postgres, exact)
///   and viewer hashes to the sketches (Redis), in slices spread over `writeSpread` (the stores may share the
///   gateway's cores, and one burst of their work was what stretched its latency tail). What a store cannot take stays
///   here and is written later, up to `maximumPendingKeys` generation-days; beyond that plays are dropped and counted
///   (`usher_plays_dropped_total`). Graceful shutdown flushes what is held.
/// - Viewers are a token's `sub`, else the client's IP and User-Agent, hashed with a secret key that changes every
///   UTC day and is shared by the instances through the sketches' store: nothing reversible is stored, and the same
///   viewer counts once across instances.
public final class Plays: Service, Sendable {
    public struct Configuration: Sendable {
        /// How often batches are written. Default 2 s: a play shows in the stats within 5 s, and a busy
        /// generation's plays share each write.
        public var flushInterval: Duration = .seconds(2)
        /// Generation-days held while a store is down; more are dropped and counted. Default 200,000.
        public var maximumPendingKeys: Int = 200_000
        /// Generation-days per write: one upsert and one sketch script each. Default 100: about 1 ms of Postgres and
        /// 0.2 ms of Redis (10,000 in one statement were 43–52 ms). Smaller slices shorten each stall of the gateway's
        /// core and add a statement's fixed cost: 250 gave a p99 of 3.0 ms in the load benchmark, 100 gave 2.5.
        public var writeSliceKeys: Int = 100
        /// Slices per flush at most: a flush of more than `writeSliceKeys × maximumWriteSlices` generation-days writes
        /// bigger slices, so that the statements' fixed cost stays bounded and a flush of any size ends within its
        /// period (at 100,000 generation-days: 100 upserts of 1,000 rows, about 0.5 s of Postgres). Default 100.
        public var maximumWriteSlices: Int = 100
        /// How long a timed flush spreads its slices over (at most half of `flushInterval`). Default 1 s.
        ///
        /// In the load benchmark (10,000 generation-days a flush; Postgres, Redis and the gateway on one core) a flush
        /// written at once was about 90 ms of work (this process, Postgres, Redis) in 4–8 ms runs, each a stall of
        /// every request in flight: p99 was 4.4 × the mean latency. Spread in slices it was 2.6 × (README § Benchmarks:
        /// What each cut bought, d318d4b). A play is written at most `flushInterval + writeSpread` after it is counted (3 s by
        /// default; the contract asks 5 s). A shutdown's flush writes at once.
        public var writeSpread: Duration = .seconds(1)
        /// (Generation-day, viewer) pairs remembered as already in their sketch, so that a repeat viewer is not sent
        /// to Redis again (`WrittenViewers`); 0 sends every flush's viewers. Default 150,000: about 2 MiB of
        /// fingerprints (a `Set` of 2¹⁸ slots), beside the 58–62 MiB the gateway holds under load (README § Gateway
        /// under load: RSS ≤ 64 MiB).
        public var rememberedViewers: Int = 150_000
        /// How long they are remembered: a sketch Redis lost is refilled by its viewers' next plays after at most
        /// this long. Default 10 minutes.
        public var rememberViewersFor: Duration = .seconds(600)
        /// `USHER_PLAY_LOG`: one JSON line per play on standard output.
        public var logPlays: Bool = false
        /// Days Redis keeps a day's sketch (the roll-up copies it to Postgres first). Default 35.
        public var sketchDays: Int = 35
        /// Days the daily rows are kept. Default 400.
        public var keepDays: Int = Int(Plays.maximumRangeDays)

        public init() {}
    }

    /// The longest range `stats` answers, in days (the rows are kept this long).
    public static let maximumRangeDays: Int32 = 400

    /// The one rule for a stats range, for the API and `usher stats`: `to` defaults to `today`, `from` to 29 days
    /// before `to` (30 days); nil when `from` is after `to` or the range is longer than `maximumRangeDays`.
    public static func range(from: PlayDay?, to: PlayDay?, today: PlayDay) -> (from: PlayDay, to: PlayDay)? {
        let last = to ?? today
        let first = from ?? last.adding(-29)
        guard first <= last, last.number - first.number < maximumRangeDays else { return nil }
        return (first, last)
    }

    public let configuration: Configuration
    let ledger: any PlayLedger
    let sketches: any ViewerSketches
    let logger: Logger
    private let batches: [ObjectIdentifier: LoopBound<PlayBatch>]
    /// What was taken from the loops and is not written yet, merged by generation-day: a tally whose counts are zero
    /// waits only for the sketches, one with no viewers only for the ledger.
    private let pending = Mutex<[PlayKey: PlayBatch.Tally]>([:])
    /// Viewers already in their sketch; used by the one flush at a time.
    private let writtenViewers: Mutex<WrittenViewers>
    /// One flush at a time (the timer and a shutdown may overlap).
    private let flushing = Mutex(false)
    /// The shared daily keys handed to the loops, by day.
    private let sharedKeys = Mutex<[PlayDay: SipHashKey]>([:])
    private let dropped = Counter(label: "usher_plays_dropped_total")
    private let recorded = Counter(label: "usher_plays_total")

    public init(
        configuration: Configuration = .init(), ledger: any PlayLedger, sketches: any ViewerSketches, group: any EventLoopGroup, logger: Logger
    ) {
        self.configuration = configuration
        self.ledger = ledger
        self.sketches = sketches
        self.logger = logger
        writtenViewers = Mutex(WrittenViewers(capacity: configuration.rememberedViewers, lifetime: configuration.rememberViewersFor))
        // Until the shared keys are fetched (`prepare`), a local one: this instance's viewers still count, only not
        // merged with other instances' for the hashes made under it.
        let local = SipHashKey((try? SecureRandom.bytes(16)) ?? Array(repeating: 0, count: 16))
        var batches: [ObjectIdentifier: LoopBound<PlayBatch>] = [:]
        for loop in group.makeIterator() {
            batches[ObjectIdentifier(loop)] = LoopBound(PlayBatch(keys: [:], fallback: local), eventLoop: loop)
        }
        self.batches = batches
    }

    // MARK: hot path

    /// Records one play; must be called on `loop`. `subject`: the token's `sub`; otherwise `client` and
    /// `userAgent` identify the viewer.
    public func record(
        requestID: String, shareCode: String?, subject: String?, client: String?, userAgent: String?, now: Int64, on loop: any EventLoop
    ) {
        record(requestID: requestID[...], shareCode: shareCode, subject: subject, client: client, userAgent: userAgent, now: now, on: loop)
    }

    /// `requestID` as it lies in the request's URL: a generation-day already in the batch is counted without a copy
    /// of it (`PlayBatch.Key`).
    public func record(
        requestID: Substring, shareCode: String?, subject: String?, client: String?, userAgent: String?, now: Int64, on loop: any EventLoop
    ) {
        guard let batch = batches[ObjectIdentifier(loop)]?.value else { return }
        let day = PlayDay(unixSeconds: now)
        let key = batch.key(for: day)
        // A kind tag, then the parts separated by a byte no part contains; hashed in place, nothing allocated.
        let viewer: UInt64 =
            if let subject {
                key.hash(kind: UInt8(ascii: "s"), subject, "")
            } else {
                key.hash(kind: UInt8(ascii: "a"), client ?? "", userAgent ?? "")
            }
        // One hash lookup for a generation-day already in the batch, its tally changed in place through its index.
        let found = PlayBatch.Key(requestID: requestID, day: day)
        if let index = batch.tallies.index(forKey: found) {
            Self.tally(&batch.tallies.values[index], viewer: viewer, shared: shareCode != nil)
        } else {
            var tally = PlayBatch.Tally()
            Self.tally(&tally, viewer: viewer, shared: shareCode != nil)
            batch.tallies[PlayBatch.Key(requestID: String(requestID)[...], day: day, hash: found.hash)] = tally
        }
        if configuration.logPlays {
            batch.logLines.append(Self.logLine(now: now, requestID: String(requestID), shareCode: shareCode, viewer: viewer))
        }
    }

    /// One dictionary access per play: the tally is modified in place.
    private static func tally(_ tally: inout PlayBatch.Tally, viewer: UInt64, shared: Bool) {
        tally.counts.plays += 1
        if shared { tally.counts.sharePlays += 1 }
        tally.viewers.insert(viewer)
    }

    static func logLine(now: Int64, requestID: String, shareCode: String?, viewer: UInt64) -> String {
        let time = Date(timeIntervalSince1970: TimeInterval(now)).formatted(.iso8601)
        let hex = String(viewer, radix: 16)
        let viewerHash = String(repeating: "0", count: 16 - hex.count) + hex
        // Ids and codes are [A-Za-z0-9._-]: nothing to escape.
        return
            #"{"time":"\#(time)","request_id":"\#(requestID)","share":\#(shareCode.map { "\"\($0)\"" } ?? "null"),"viewer":"\#(viewerHash)","status":302}"#
    }

    // MARK: flushing

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            // A steady cadence: the spread writes do not push the next flush back.
            let clock = ContinuousClock()
            let interval = self.configuration.flushInterval
            // Spread over at most half the period, so that a flush is done before the next one is due.
            let spread = min(self.configuration.writeSpread, interval / 2)
            var next = clock.now
            while !Task.isCancelled {
                next += interval
                // A flush that outlasted its period (stores slow to answer): the next one starts now, at once.
                let behind = next <= clock.now
                if behind { next = clock.now }
                try await Task.sleep(until: next, clock: clock)
                await self.flush(spreadOver: behind ? nil : spread)
            }
        }
        // Shutting down: what the loops and this instance hold is written once more.
        await flush()
    }

    /// Takes every loop's batch and writes what is held, at once. Safe to call at any time.
    public func flush() async { await flush(spreadOver: nil) }

    /// As `flush()`, in pieces spread over `spread`: this work shares the cores the gateway answers on, and the kernel
    /// takes a busy core from a thread only at its next tick (4 ms here), so a piece longer than that, in this process
    /// or in a store, is a 4 ms stall of every request in flight. The pieces are short and the task sleeps between
    /// them. Cancelling the task ends the spreading, not the writes.
    func flush(spreadOver spread: Duration?) async {
        guard
            flushing.withLock({ busy in
                if busy { return false }
                busy = true
                return true
            })
        else { return }
        defer { flushing.withLock { $0 = false } }
        await prepare()
        var lines: [String] = []
        var taken: [[PlayBatch.Key: PlayBatch.Tally]] = []
        for bound in batches.values {
            guard let (tallies, logLines) = try? await bound.eventLoop.submit({ bound.value.take() }).get() else { continue }
            lines += logLines
            if !tallies.isEmpty { taken.append(tallies) }
        }
        if !lines.isEmpty {
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        for tallies in taken { await merge(tallies, paced: spread != nil) }
        taken = []
        await write(spreadOver: spread)
    }

    /// Entries merged per hold of the lock; a timed flush sleeps a millisecond between such chunks (10,000 entries
    /// in one piece were about 8 ms of work, in a `perf` profile).
    static let mergeChunk = 1_000

    /// Merges a loop's batch into `pending` (the loops' tallies of one generation-day become one row to write), its ids
    /// copied into strings of their own here, off the loop.
    private func merge(_ tallies: [PlayBatch.Key: PlayBatch.Tally], paced: Bool) async {
        var lost = 0
        var plays = 0
        var index = tallies.startIndex
        while index != tallies.endIndex {
            if paced, index != tallies.startIndex { try? await Task.sleep(for: .milliseconds(1)) }
            pending.withLock { pending in
                var merged = 0
                while index != tallies.endIndex, merged < Self.mergeChunk {
                    let (key, tally) = tallies[index]
                    tallies.formIndex(after: &index)
                    merged += 1
                    plays += tally.counts.plays
                    let playKey = PlayKey(requestID: String(key.requestID), day: key.day)
                    if let found = pending.index(forKey: playKey) {
                        Self.add(tally, to: &pending.values[found])
                    } else if pending.count >= configuration.maximumPendingKeys {
                        lost += tally.counts.plays
                    } else {
                        pending[playKey] = tally
                    }
                }
            }
        }
        recorded.increment(by: plays)
        if lost > 0 {
            dropped.increment(by: lost)
            logger.warning("plays dropped: the stores are down and the pending bound is reached", metadata: ["plays": "\(lost)"])
        }
    }

    private static func add(_ tally: PlayBatch.Tally, to held: inout PlayBatch.Tally) {
        held.counts.plays += tally.counts.plays
        held.counts.sharePlays += tally.counts.sharePlays
        held.viewers.formUnion(tally.viewers)
    }

    /// Writes `pending` in slices of `writeSliceKeys` (bigger beyond `maximumWriteSlices` of them), a timed flush
    /// sleeping `spread ÷ slices` between them. Viewers this instance already wrote to a day's sketch are not sent
    /// again (`WrittenViewers`).
    /// Counts and viewers are written independently: one store down keeps only its own share pending (and is not
    /// tried again in this flush). Within each slice viewers go first: a roll-up that reads a day's row after this
    /// flush's counts then finds this flush's viewers in the sketch it copies.
    private func write(spreadOver spread: Duration?) async {
        var entries = pending.withLock { pending in
            let held = Array(pending)
            // Emptied with room kept: the next period's merge does not grow it again.
            pending.removeAll(keepingCapacity: true)
            return held
        }
        let most = max(1, configuration.maximumWriteSlices)
        let size = max(1, configuration.writeSliceKeys, (entries.count + most - 1) / most)
        let slices = (entries.count + size - 1) / size
        let pause = spread.map { $0 / max(1, slices) }
        var sketchesDown = false
        var ledgerDown = false
        for slice in 0..<slices {
            if slice > 0, let pause, !Task.isCancelled { try? await Task.sleep(for: pause) }
            var counts: [PlayKey: PlayCounts] = [:]
            var viewers: [PlayKey: Set<UInt64>] = [:]
            writtenViewers.withLock { writtenViewers in
                for index in (slice * size)..<min(entries.count, (slice + 1) * size) {
                    let (key, tally) = entries[index]
                    if tally.counts != PlayCounts() { counts[key] = tally.counts }
                    if !tally.viewers.isEmpty, let unwritten = writtenViewers.unwritten(tally.viewers, of: key) { viewers[key] = unwritten }
                    // Freed slice by slice, not all at the end in one piece.
                    entries[index] = (Self.written, PlayBatch.Tally())
                }
            }
            if !viewers.isEmpty {
                await attempt(unlessDown: &sketchesDown, "cannot write viewer sketches yet; kept for the next flush") {
                    try await sketches.add(viewers, keepDays: configuration.sketchDays)
                    writtenViewers.withLock { $0.remember(viewers) }
                } orKeep: {
                    keep(viewers: viewers)
                }
            }
            if !counts.isEmpty {
                await attempt(unlessDown: &ledgerDown, "cannot write play counts yet; kept for the next flush") {
                    try await ledger.add(counts)
                } orKeep: {
                    keep(counts: counts)
                }
            }
        }
    }

    /// One slice's write to one store: skipped (and kept) once the store failed in this flush, kept if it fails now.
    private func attempt(
        unlessDown down: inout Bool, _ warning: Logger.Message, _ write: () async throws -> Void, orKeep keep: () -> Void
    ) async {
        guard !down else { return keep() }
        do {
            try await write()
        } catch {
            down = true
            keep()
            logger.warning(warning, metadata: ["error": "\(error)"])
        }
    }

    /// Stands in for a written entry.
    private static let written = PlayKey(requestID: "", day: PlayDay(number: 0))

    /// Puts back what a store could not take; it was counted in `pending` before, so the bound does not apply.
    private func keep(counts: [PlayKey: PlayCounts] = [:], viewers: [PlayKey: Set<UInt64>] = [:]) {
        pending.withLock { pending in
            for (key, value) in counts { Self.add(PlayBatch.Tally(counts: value), to: &pending[key, default: PlayBatch.Tally()]) }
            for (key, value) in viewers { Self.add(PlayBatch.Tally(viewers: value), to: &pending[key, default: PlayBatch.Tally()]) }
        }
    }

    /// Fetches today's and tomorrow's shared keys (each created by the first instance that asks) and hands them to
    /// every loop; called before the edge serves, then on every flush until both are here.
    public func prepare() async {
        let today = PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970))
        let wanted = [today, today.adding(1)]
        let known = sharedKeys.withLock { $0 }
        guard wanted.contains(where: { known[$0] == nil }) else { return }
        var keys: [PlayDay: SipHashKey] = [:]
        for day in wanted {
            if let key = known[day] {
                keys[day] = key
            } else if let bytes = try? await sketches.dailyKey(day) {
                keys[day] = SipHashKey(bytes)
            }
        }
        let fetched = keys
        sharedKeys.withLock { $0 = fetched }
        for bound in batches.values {
            bound.eventLoop.execute { bound.value.keys = fetched }
        }
    }

    // MARK: reading

    /// Every day of `from...to` with its counts, and totals whose viewers are distinct over the range.
    public func stats(requestID: String, from: PlayDay, to: PlayDay) async throws -> PlayStats {
        let rows = try await ledger.rows(requestID: requestID, from: from, to: to)
        let byDay = Dictionary(rows.map { ($0.day, $0) }, uniquingKeysWith: { first, _ in first })
        let days = (from.number...to.number).map(PlayDay.init(number:))
        let live = try await sketches.counts(requestID: requestID, days: rows.map(\.day))
        var archived: [PlayDay: [UInt8]] = [:]
        for row in rows where live[row.day] == nil { archived[row.day] = row.sketch }
        let distinct = rows.isEmpty ? 0 : try await sketches.union(requestID: requestID, days: rows.map(\.day), archived: archived)
        var stats = PlayStats(requestID: requestID, days: [], totalPlays: 0, totalViewers: distinct, totalSharePlays: 0)
        for day in days {
            let row = byDay[day]
            let entry = PlayStats.Day(
                day: day, plays: row?.counts.plays ?? 0, viewers: live[day] ?? row?.viewers ?? 0, sharePlays: row?.counts.sharePlays ?? 0)
            stats.totalPlays += entry.plays
            stats.totalSharePlays += entry.sharePlays
            stats.days.append(entry)
        }
        return stats
    }

    /// The worker's roll-up: copies each counted day's sketch and distinct count to its row, oldest day first, in
    /// batches of `limit`, at most `maximumBatches` of them (days counted faster than they are copied must not keep
    /// one sweep from ending); then drops rows older than `keepDays`. Returns the days rolled up.
    public func rollUp(limit: Int = 500, maximumBatches: Int = 100) async throws -> Int {
        _ = try await ledger.requeueMissed()
        var done = 0
        for _ in 0..<maximumBatches {
            let batch = try await ledger.pendingRollUp(limit: limit)
            for pending in batch {
                let key = pending.key
                let sketch = try await sketches.export(key)
                let viewers = try await sketches.counts(requestID: key.requestID, days: [key.day])[key.day]
                guard let viewers else {
                    try await ledger.rolledUp(pending, viewers: 0, sketch: nil)
                    continue
                }
                try await ledger.rolledUp(pending, viewers: viewers, sketch: sketch)
            }
            done += batch.count
            if batch.count < limit || Task.isCancelled { break }
        }
        _ = try await ledger.purge(olderThanDays: configuration.keepDays)
        return done
    }
}
