import DeliveryTesting
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
import UsherCrypto

@testable import Delivery

/// Play counting over the in-memory stores: what the edge records, what a flush writes, what the stats answer.
@Suite struct PlaysTests {
    static let now = Int64(Date().timeIntervalSince1970)

    static func record(
        _ fixture: DeliveryFixture, _ id: String, share: String? = nil, subject: String? = nil, client: String? = "192.0.2.1",
        userAgent: String? = "player/1", now: Int64 = now, times: Int = 1
    ) async throws {
        let loop = fixture.group.next()
        try await loop.submit {
            for _ in 0..<times {
                fixture.plays.record(requestID: id, shareCode: share, subject: subject, client: client, userAgent: userAgent, now: now, on: loop)
            }
        }.get()
    }

    @Test func playsAreExactViewersDistinctAndSharePlaysCountedTwice() async throws {
        let fixture = DeliveryFixture()
        try await Self.record(fixture, "p-1", subject: "alice", times: 3)
        try await Self.record(fixture, "p-1", subject: "bob")
        try await Self.record(fixture, "p-1", share: "CODE", client: "198.51.100.7", times: 2)
        try await Self.record(fixture, "p-2", subject: "alice")
        await fixture.plays.flush()

        let today = PlayDay(unixSeconds: Self.now)
        let stats = try await fixture.plays.stats(requestID: "p-1", from: today.adding(-29), to: today)
        #expect(stats.days.count == 30 && stats.days.last?.day == today)
        #expect(stats.totalPlays == 6 && stats.totalSharePlays == 2 && stats.totalViewers == 3, "\(stats)")
        #expect(stats.days.last?.plays == 6 && stats.days.last?.viewers == 3 && stats.days.last?.sharePlays == 2)
        #expect(try await fixture.plays.stats(requestID: "p-2", from: today, to: today).totalPlays == 1)
    }

    /// A batch's key is found from the id as it lies in a URL, and told apart by day and by id.
    @Test func batchKeysMatchByIDAndDayWhateverStringHoldsTheID() {
        let today = PlayDay(unixSeconds: Self.now)
        let url = "/v/gen-1?token=x"
        let fromURL = PlayBatch.Key(requestID: url.dropFirst(3).prefix(5), day: today)
        let stored = PlayBatch.Key(requestID: String("gen-1")[...], day: today, hash: fromURL.hash)
        var tallies: [PlayBatch.Key: Int] = [stored: 1]
        #expect(fromURL == stored && tallies[fromURL] == 1)
        #expect(fromURL != PlayBatch.Key(requestID: "gen-1", day: today.adding(1)))
        #expect(fromURL != PlayBatch.Key(requestID: "gen-2", day: today))
        tallies[PlayBatch.Key(requestID: "gen-1", day: today.adding(1))] = 2
        #expect(tallies.count == 2 && tallies[PlayBatch.Key(requestID: "gen-1", day: today)] == 1)
    }

    @Test func viewersOverARangeAreDistinctNotSummed() async throws {
        let fixture = DeliveryFixture()
        let today = PlayDay(unixSeconds: Self.now)
        try await Self.record(fixture, "p-3", subject: "alice", now: Self.now - 86_400)
        try await Self.record(fixture, "p-3", subject: "alice")
        try await Self.record(fixture, "p-3", subject: "carol")
        await fixture.plays.flush()
        // Yesterday's sketch is rolled up, then gone from the live store: the union still counts alice once.
        #expect(try await fixture.plays.rollUp() == 2)
        fixture.sketches.expire(PlayKey(requestID: "p-3", day: today.adding(-1)))
        let stats = try await fixture.plays.stats(requestID: "p-3", from: today.adding(-1), to: today)
        #expect(stats.days.map(\.viewers) == [1, 2])
        #expect(stats.totalViewers == 2 && stats.totalPlays == 3)
    }

    /// Days counted faster than a sweep copies them must not keep the sweep from ending: a roll-up takes at most
    /// `maximumBatches` batches, oldest days first, and the next one takes the rest.
    @Test func aRollUpIsBoundedAndTheNextTakesTheRest() async throws {
        let fixture = DeliveryFixture()
        for offset in 0..<5 { try await Self.record(fixture, "p-5", now: Self.now - Int64(offset) * 86_400) }
        await fixture.plays.flush()
        #expect(try await fixture.plays.rollUp(limit: 2, maximumBatches: 2) == 4)
        let left = try await fixture.playLedger.pendingRollUp(limit: 10)
        #expect(left.map(\.key.day) == [PlayDay(unixSeconds: Self.now)], "the newest day is the one left")
        #expect(try await fixture.plays.rollUp(limit: 2, maximumBatches: 2) == 1)
        #expect(try await fixture.playLedger.pendingRollUp(limit: 10).isEmpty)
    }

    @Test func storesThatAreDownKeepThePlaysUntilTheyReturn() async throws {
        let fixture = DeliveryFixture()
        let today = PlayDay(unixSeconds: Self.now)
        fixture.playLedger.isAvailable = false
        fixture.sketches.isAvailable = false
        try await Self.record(fixture, "p-4", subject: "dave", times: 5)
        await fixture.plays.flush()
        #expect(try await fixture.plays.stats(requestID: "p-4", from: today, to: today).totalPlays == 0)
        fixture.playLedger.isAvailable = true
        fixture.sketches.isAvailable = true
        await fixture.plays.flush()
        let stats = try await fixture.plays.stats(requestID: "p-4", from: today, to: today)
        #expect(stats.totalPlays == 5 && stats.totalViewers == 1)
    }

    @Test func beyondTheBoundPlaysAreDroppedNotHeldForever() async throws {
        var configuration = Plays.Configuration()
        configuration.maximumPendingKeys = 2
        let ledger = InMemoryPlayLedger()
        ledger.isAvailable = false
        let fixture = DeliveryFixture()
        let plays = Plays(
            configuration: configuration, ledger: ledger, sketches: fixture.sketches, group: fixture.group, logger: .init(label: "bound"))
        let loop = fixture.group.next()
        try await loop.submit {
            for id in ["a", "b", "c", "d"] {
                plays.record(requestID: id, shareCode: nil, subject: "s", client: nil, userAgent: nil, now: Self.now, on: loop)
            }
        }.get()
        await plays.flush()
        ledger.isAvailable = true
        await plays.flush()
        let today = PlayDay(unixSeconds: Self.now)
        var total = 0
        for id in ["a", "b", "c", "d"] { total += try await plays.stats(requestID: id, from: today, to: today).totalPlays }
        #expect(total == 2, "two generation-days were held, two dropped")
    }

    static func plays(_ fixture: DeliveryFixture, ledger: any PlayLedger, sliceKeys: Int, slices: Int = 100) -> Plays {
        var configuration = Plays.Configuration()
        configuration.writeSliceKeys = sliceKeys
        configuration.maximumWriteSlices = slices
        return Plays(configuration: configuration, ledger: ledger, sketches: fixture.sketches, group: fixture.group, logger: .init(label: "slices"))
    }

    static func record(_ plays: Plays, _ fixture: DeliveryFixture, ids: [String], subjects: [String] = ["s"]) async throws {
        let loop = fixture.group.next()
        try await loop.submit {
            for id in ids {
                for subject in subjects {
                    plays.record(requestID: id, shareCode: nil, subject: subject, client: nil, userAgent: nil, now: Self.now, on: loop)
                }
            }
        }.get()
    }

    /// A flush writes in slices of `writeSliceKeys` generation-days, each counted once.
    @Test func aFlushWritesInSlicesAndEveryPlayOnce() async throws {
        let fixture = DeliveryFixture()
        let ledger = SliceLedger()
        let plays = Self.plays(fixture, ledger: ledger, sliceKeys: 3)
        let ids = (0..<10).map { "slice-\($0)" }
        try await Self.record(plays, fixture, ids: ids, subjects: ["ann", "bo"])
        await plays.flush()
        #expect(ledger.calls == [3, 3, 3, 1])
        let today = PlayDay(unixSeconds: Self.now)
        for id in ids {
            let stats = try await plays.stats(requestID: id, from: today, to: today)
            #expect(stats.totalPlays == 2 && stats.totalViewers == 2, "\(id): \(stats)")
        }
    }

    /// Beyond `maximumWriteSlices` slices of `writeSliceKeys`, the slices grow instead of their number.
    @Test func aBigFlushWritesBiggerSlicesNotMoreOfThem() async throws {
        let fixture = DeliveryFixture()
        let ledger = SliceLedger()
        let plays = Self.plays(fixture, ledger: ledger, sliceKeys: 3, slices: 2)
        let ids = (0..<10).map { "big-\($0)" }
        try await Self.record(plays, fixture, ids: ids)
        await plays.flush()
        #expect(ledger.calls == [5, 5])
        let today = PlayDay(unixSeconds: Self.now)
        for id in ids { #expect(try await plays.stats(requestID: id, from: today, to: today).totalPlays == 1, "\(id)") }
    }

    /// The ledger fails on its second slice: it is not asked again in that flush, what it did not take is written by
    /// the next one, nothing twice; the sketches, a store of their own, took every slice.
    @Test func aStoreFailingMidFlushKeepsWhatItDidNotTake() async throws {
        let fixture = DeliveryFixture()
        let ledger = SliceLedger(failing: [2])
        let plays = Self.plays(fixture, ledger: ledger, sliceKeys: 3)
        let ids = (0..<10).map { "half-\($0)" }
        try await Self.record(plays, fixture, ids: ids)
        try await Self.record(plays, fixture, ids: ids)
        await plays.flush()
        #expect(ledger.calls == [3, 3])
        let today = PlayDay(unixSeconds: Self.now)
        var written = 0
        for id in ids {
            written += try await plays.stats(requestID: id, from: today, to: today).totalPlays
            #expect(try await fixture.sketches.counts(requestID: id, days: [today]) == [today: 1], "\(id): its viewer was written")
        }
        #expect(written == 6, "the first slice's three generation-days, two plays each")
        await plays.flush()
        #expect(ledger.calls == [3, 3, 3, 3, 1])
        for id in ids { #expect(try await plays.stats(requestID: id, from: today, to: today).totalPlays == 2, "\(id)") }
    }

    /// The service writes on its cadence, and a cancelled run writes what is left before it ends.
    @Test func theServiceFlushesOnItsCadenceAndOnceMoreWhenStopped() async throws {
        let fixture = DeliveryFixture()
        var configuration = Plays.Configuration()
        configuration.flushInterval = .milliseconds(100)
        configuration.writeSpread = .milliseconds(20)
        let plays = Plays(
            configuration: configuration, ledger: fixture.playLedger, sketches: fixture.sketches, group: fixture.group,
            logger: .init(label: "cadence"))
        let today = PlayDay(unixSeconds: Self.now)
        try await Self.record(plays, fixture, ids: ["cadence"])
        let service = Task { try await plays.run() }
        let deadline = ContinuousClock.now + .seconds(3)
        while try await plays.stats(requestID: "cadence", from: today, to: today).totalPlays == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await plays.stats(requestID: "cadence", from: today, to: today).totalPlays == 1, "a timed flush wrote the play")
        try await Self.record(plays, fixture, ids: ["cadence"])
        service.cancel()
        try await service.value
        #expect(try await plays.stats(requestID: "cadence", from: today, to: today).totalPlays == 2, "the last flush on the way out")
    }

    /// A timed flush sleeps between its slices: three slices over 300 ms take at least two pauses of 100 ms.
    @Test func aTimedFlushSpreadsItsSlices() async throws {
        let fixture = DeliveryFixture()
        let ledger = SliceLedger()
        let plays = Self.plays(fixture, ledger: ledger, sliceKeys: 2)
        try await Self.record(plays, fixture, ids: (0..<6).map { "spread-\($0)" })
        let started = ContinuousClock.now
        await plays.flush(spreadOver: .milliseconds(300))
        #expect(ContinuousClock.now - started >= .milliseconds(200))
        #expect(ledger.calls == [2, 2, 2])
    }

    @Test func daysAreReadAndWrittenAsTheCalendarSays() {
        #expect(PlayDay("2026-12-03")?.description == "2026-12-03")
        #expect(PlayDay(unixSeconds: 0).description == "1970-01-01")
        #expect(PlayDay(unixSeconds: 1_709_164_800).description == "2024-02-29")
        for bad in ["2026-02-30", "2026-13-01", "2026-1-01", "20261203", "2026-12-03T00"] { #expect(PlayDay(bad) == nil, "\(bad)") }
    }

    @Test func sipHashMatchesTheReferenceVector() {
        // SipHash-2-4 paper, appendix A: key 00…0f, message 00…0e.
        let key = SipHashKey(Array(0..<16))
        #expect(key.hash(Array(0..<15)) == 0xa129_ca61_49be_45e5)
        #expect(key.hash([UInt8]()) == 0x726f_db47_dd0e_0e31)
        // The identity form hashes `kind, 0, first, 0, second` without building it.
        #expect(key.hash(kind: 0x61, "192.0.2.1", "player/1") == key.hash([0x61, 0] + Array("192.0.2.1".utf8) + [0] + Array("player/1".utf8)))
    }
}

@Suite struct PlayLogTests {
    @Test func aLogLineNamesThePlayAndNoSecret() throws {
        let line = Plays.logLine(now: 1_764_800_000, requestID: "gen-1", shareCode: nil, viewer: 0xabc)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(json["request_id"] as? String == "gen-1" && json["share"] is NSNull && json["status"] as? Int == 302)
        #expect(json["viewer"] as? String == "0000000000000abc" && (json["time"] as? String)?.hasSuffix("Z") == true)
        #expect(Set(json.keys) == ["time", "request_id", "share", "viewer", "status"], "never a token or a URL")
        let shared = Plays.logLine(now: 1_764_800_000, requestID: "gen-1", shareCode: "CODE", viewer: 1)
        #expect(shared.contains(#""share":"CODE""#))
    }
}

/// The in-memory ledger, with the size of each `add` kept and chosen calls (numbered from 1) failing.
final class SliceLedger: PlayLedger {
    private let inner = InMemoryPlayLedger()
    private let sizes = Mutex<[Int]>([])
    let failing: Set<Int>

    struct Refused: Error {}

    init(failing: Set<Int> = []) { self.failing = failing }

    var calls: [Int] { sizes.withLock { $0 } }

    func add(_ counts: [PlayKey: PlayCounts]) async throws {
        let call = sizes.withLock { sizes in
            sizes.append(counts.count)
            return sizes.count
        }
        if failing.contains(call) { throw SliceLedger.Refused() }
        try await inner.add(counts)
    }

    func rows(requestID: String, from: PlayDay, to: PlayDay) async throws -> [PlayRow] {
        try await inner.rows(requestID: requestID, from: from, to: to)
    }

    func pendingRollUp(limit: Int) async throws -> [PendingRollUp] { try await inner.pendingRollUp(limit: limit) }

    func rolledUp(_ pending: PendingRollUp, viewers: Int, sketch: [UInt8]?) async throws {
        try await inner.rolledUp(pending, viewers: viewers, sketch: sketch)
    }

    func requeueMissed() async throws -> Int { try await inner.requeueMissed() }

    func purge(olderThanDays days: Int) async throws -> Int { try await inner.purge(olderThanDays: days) }
}
