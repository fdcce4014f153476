import DeliveryTesting
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing

@testable import Delivery

/// A viewer already written to a day's sketch is not sent to the store again (`WrittenViewers`), and nothing is lost
/// by it: counts are still written every flush, and a failed or forgotten write is sent again.
@Suite struct WrittenViewersTests {
    static let now = PlaysTests.now
    static let today = PlayDay(unixSeconds: now)

    /// Prepared before the first play by its caller, as the server does: a viewer is hashed with the day's shared key.
    static func plays(_ fixture: DeliveryFixture, sketches: RecordingSketches, remembered: Int = 150_000) -> Plays {
        var configuration = Plays.Configuration()
        configuration.rememberedViewers = remembered
        return Plays(
            configuration: configuration, ledger: fixture.playLedger, sketches: sketches, group: fixture.group, logger: .init(label: "written"))
    }

    static func record(_ plays: Plays, _ fixture: DeliveryFixture, _ id: String, subjects: [String]) async throws {
        let loop = fixture.group.next()
        try await loop.submit {
            for subject in subjects {
                plays.record(requestID: id, shareCode: nil, subject: subject, client: nil, userAgent: nil, now: now, on: loop)
            }
        }.get()
    }

    @Test func aRepeatViewerIsNotSentAgainAndStillCounts() async throws {
        let fixture = DeliveryFixture()
        let sketches = RecordingSketches()
        let plays = Self.plays(fixture, sketches: sketches)
        await plays.prepare()
        try await Self.record(plays, fixture, "w-1", subjects: ["alice", "bob"])
        await plays.flush()
        #expect(sketches.adds == [2])

        try await Self.record(plays, fixture, "w-1", subjects: ["alice", "alice", "bob"])
        await plays.flush()
        #expect(sketches.adds == [2], "only repeat viewers: nothing sent")
        #expect(try await plays.stats(requestID: "w-1", from: Self.today, to: Self.today).totalPlays == 5, "their plays are written")

        try await Self.record(plays, fixture, "w-1", subjects: ["carol", "alice"])
        try await Self.record(plays, fixture, "w-2", subjects: ["alice"])
        await plays.flush()
        #expect(sketches.adds == [2, 2], "carol on w-1, and alice on another generation")
        let stats = try await plays.stats(requestID: "w-1", from: Self.today, to: Self.today)
        #expect(stats.totalPlays == 7 && stats.totalViewers == 3, "\(stats)")
        #expect(try await plays.stats(requestID: "w-2", from: Self.today, to: Self.today).totalViewers == 1)
    }

    @Test func aViewerWhoseWriteFailedIsSentAgain() async throws {
        let fixture = DeliveryFixture()
        let sketches = RecordingSketches()
        let plays = Self.plays(fixture, sketches: sketches)
        await plays.prepare()
        sketches.isAvailable = false
        try await Self.record(plays, fixture, "w-3", subjects: ["dave"])
        await plays.flush()
        #expect(sketches.adds == [1], "tried, and refused")
        sketches.isAvailable = true
        await plays.flush()
        #expect(sketches.adds == [1, 1], "sent again: the failed write was not remembered")
        try await Self.record(plays, fixture, "w-3", subjects: ["dave"])
        await plays.flush()
        #expect(sketches.adds == [1, 1])
        let stats = try await plays.stats(requestID: "w-3", from: Self.today, to: Self.today)
        #expect(stats.totalPlays == 2 && stats.totalViewers == 1, "\(stats)")
    }

    @Test func withNothingRememberedEveryFlushSendsItsViewers() async throws {
        let fixture = DeliveryFixture()
        let sketches = RecordingSketches()
        let plays = Self.plays(fixture, sketches: sketches, remembered: 0)
        await plays.prepare()
        for _ in 0..<3 {
            try await Self.record(plays, fixture, "w-4", subjects: ["erin"])
            await plays.flush()
        }
        #expect(sketches.adds == [1, 1, 1])
    }

    /// Forgetting is the safe side: after `lifetime`, or on reaching `capacity`, a pair is sent again.
    @Test func pairsAreForgottenAfterTheirLifetimeAndAtTheBound() {
        let start = ContinuousClock.now
        let key = PlayKey(requestID: "w-5", day: Self.today)
        var written = WrittenViewers(capacity: 3, lifetime: .seconds(60), now: start)
        #expect(written.unwritten([1, 2], of: key, now: start) == [1, 2])
        written.remember([key: [1, 2]], now: start)
        #expect(written.unwritten([1, 2], of: key, now: start + .seconds(59)) == nil)
        #expect(written.unwritten([2, 3], of: key, now: start + .seconds(59)) == [3])
        #expect(written.unwritten([1], of: PlayKey(requestID: "w-5", day: Self.today.adding(1)), now: start) == [1], "another day")
        #expect(written.unwritten([1], of: PlayKey(requestID: "w-6", day: Self.today), now: start) == [1], "another generation")
        #expect(written.unwritten([1, 2], of: key, now: start + .seconds(60)) == [1, 2], "forgotten after the lifetime")
        #expect(written.count == 0)

        let later = start + .seconds(60)
        written.remember([key: [1, 2, 3]], now: later)
        #expect(written.count == 3 && written.unwritten([1, 2, 3], of: key, now: later) == nil)
        written.remember([key: [4]], now: later)
        #expect(written.count == 1, "at the bound everything is dropped, then the new pair kept")
        #expect(written.unwritten([1, 4], of: key, now: later) == [1])
    }
}
