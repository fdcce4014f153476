import Delivery
import DeliveryTesting
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import UsherTestSupport

@testable import Postgres
@testable import Redis

/// The play ledger (`PlayStore`, PostgreSQL) and the viewer sketches (`RedisViewerSketches`, the stack's single
/// Redis) as `Plays` writes and rolls them up, on the stack's servers.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct PlayStoresIntegrationTests {
    static let logger = Logger(label: "play-stores")

    static func postgres() async throws -> PQClient {
        let url = try #require(LocalStack.usherEnvironment()["DATABASE_URL"])
        let client = PQClient(configuration: PostgresConfiguration(url: url, poolSize: 1), logger: logger)
        try await Migrator(client: client, logger: logger).migrate()
        return client
    }

    static func redis() throws -> RedisClient {
        try RedisClient(url: LocalStack.singleRedisURL, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }

    static func generations(_ count: Int, in client: PQClient) async throws -> [String] {
        let run = UUID().uuidString.prefix(8)
        let ids = (0..<count).map { "plays-\(run)-\($0)" }
        for id in ids { _ = try await client.query("INSERT INTO generations (request_id) VALUES ($1)", [id]) }
        return ids
    }

    /// The flush's upsert is prepared once per connection (a pool of one here): it runs again after a failed run
    /// (the connection and its statement stay good), and a value PostgreSQL cannot hold is refused before any work.
    @Test func aPreparedStatementRunsAgainOnItsConnectionAfterAnError() async throws {
        let client = try await Self.postgres()
        let sql = "SELECT $1::int + 1"
        for value in 1...3 {
            #expect(try await client.query(prepared: "usher_test_increment", sql, [String(value)]).rows == [[String(value + 1)]])
        }
        let refused = await #expect(throws: PQError.self) { try await client.query(prepared: "usher_test_increment", sql, ["one"]) }
        #expect(refused?.code == .query && refused?.sqlState == "22P02", "invalid input syntax for type integer")
        #expect(try await client.query(prepared: "usher_test_increment", sql, ["41"]).rows == [["42"]])
        let nul = await #expect(throws: PQError.self) { try await client.query(prepared: "usher_test_increment", sql, ["4\u{0}"]) }
        #expect(nul?.sqlState == "22021")
        // The plays' own statement, twice on the same connection: counts add up.
        let ids = try await Self.generations(1, in: client)
        let store = PlayStore(client: client)
        let today = PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970))
        let key = PlayKey(requestID: ids[0], day: today)
        try await store.add([key: PlayCounts(plays: 2, sharePlays: 1)])
        try await store.add([key: PlayCounts(plays: 3, sharePlays: 0)])
        let rows = try await store.rows(requestID: ids[0], from: today, to: today)
        #expect(rows.map(\.counts) == [PlayCounts(plays: 5, sharePlays: 1)])
        await client.shutdown()
    }

    /// A flush updates every counted generation-day, every 2 s: once a row waits for its roll-up, its update changes
    /// no indexed column and is HOT (no index writes). Counted by PostgreSQL itself, inside the flush's transaction.
    @Test func aFlushUpdatesPendingRowsWithoutIndexWrites() async throws {
        let client = try await Self.postgres()
        let ids = try await Self.generations(20, in: client)
        let day = PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970))
        let counts = Dictionary(uniqueKeysWithValues: ids.map { (PlayKey(requestID: $0, day: day), PlayCounts(plays: 2, sharePlays: 1)) })
        let store = PlayStore(client: client)
        try await store.add(counts)
        // The backend's counts not yet reported (this transaction's, and earlier ones' of this connection), read
        // before and after.
        let (updated, hot) = try await client.withTransaction { connection in
            func counted() throws -> (updated: Int, hot: Int) {
                let row = try connection.query(
                    """
                    SELECT pg_stat_get_xact_tuples_updated('plays_daily'::regclass),
                           pg_stat_get_xact_tuples_hot_updated('plays_daily'::regclass)
                    """
                ).rows.first
                return (row?[0].flatMap { Int($0) } ?? -1, row?[1].flatMap { Int($0) } ?? -1)
            }
            let before = try counted()
            try connection.query(PlayStore.add, PlayStore.addParameters(counts))
            let after = try counted()
            return (after.updated - before.updated, after.hot - before.hot)
        }
        #expect(updated == 20)
        #expect(hot == 20, "every update HOT, not \(hot) of \(updated)")
        let rows = try await store.rows(requestID: ids[0], from: day, to: day)
        #expect(rows.map(\.counts) == [PlayCounts(plays: 4, sharePlays: 2)])
        await client.shutdown()
    }

    /// A generation purged since its plays were counted (its row gone after 30 days deleted) costs only its own
    /// days: the rest of the batch is written.
    @Test func aBatchNamingAPurgedGenerationKeepsTheOthers() async throws {
        let client = try await Self.postgres()
        let ids = try await Self.generations(2, in: client)
        let day = PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970))
        let store = PlayStore(client: client)
        try await store.add([PlayKey(requestID: ids[0], day: day): PlayCounts(plays: 1)])
        let purged = "plays-purged-\(UUID().uuidString.prefix(8))"
        try await store.add([
            PlayKey(requestID: ids[0], day: day): PlayCounts(plays: 2), PlayKey(requestID: ids[1], day: day): PlayCounts(plays: 3, sharePlays: 1),
            PlayKey(requestID: purged, day: day): PlayCounts(plays: 4),
        ])
        #expect(try await store.rows(requestID: ids[0], from: day, to: day).map(\.counts) == [PlayCounts(plays: 3)])
        #expect(try await store.rows(requestID: ids[1], from: day, to: day).map(\.counts) == [PlayCounts(plays: 3, sharePlays: 1)])
        #expect(try await store.rows(requestID: purged, from: day, to: day).isEmpty)
        await client.shutdown()
    }

    /// The worker's roll-up copies each counted day's sketch and distinct count to its row, oldest day first, and the
    /// next flush of that day puts it back on the list.
    @Test func theRollUpCopiesSketchesAndANewPlayQueuesTheDayAgain() async throws {
        let client = try await Self.postgres()
        let redis = try Self.redis()
        let store = PlayStore(client: client)
        let sketches = RedisViewerSketches(client: redis)
        let ids = try await Self.generations(3, in: client)
        let today = PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970))
        let earlier = today.adding(-3)
        let keys = [PlayKey(requestID: ids[0], day: today), PlayKey(requestID: ids[1], day: today), PlayKey(requestID: ids[1], day: earlier)]
        try await store.add(Dictionary(uniqueKeysWithValues: keys.map { ($0, PlayCounts(plays: 5)) }))
        try await sketches.add(
            [keys[0]: [1, 2, 3], keys[1]: [4], keys[2]: [5, 6]], keepDays: 35)

        let pending = try await store.pendingRollUp(limit: 1_000_000).map(\.key)
        let positions = keys.map { pending.firstIndex(of: $0) }
        #expect(positions.allSatisfy { $0 != nil }, "every counted day waits for its roll-up")
        if let older = positions[2], let newer = positions[1] { #expect(older < newer, "the older day first") }

        let plays = Plays(ledger: store, sketches: sketches, group: MultiThreadedEventLoopGroup.singleton, logger: Self.logger)
        while try await plays.rollUp() == 500 {}
        let after = Set(try await store.pendingRollUp(limit: 1_000_000).map(\.key))
        #expect(keys.allSatisfy { !after.contains($0) }, "rolled up")
        let row = try #require(try await store.rows(requestID: ids[1], from: earlier, to: today).first)
        #expect(row.day == earlier && row.viewers == 2 && row.sketch != nil)
        #expect(try await store.rows(requestID: ids[0], from: today, to: today).first?.viewers == 3)

        try await store.add([keys[0]: PlayCounts(plays: 1)])
        let again = Set(try await store.pendingRollUp(limit: 1_000_000).map(\.key))
        #expect(again.contains(keys[0]) && !again.contains(keys[1]))
        await redis.shutdown()
        await client.shutdown()
    }

    /// A flush that lands while the roll-up copies a day keeps the day listed (its viewers may be missing from the
    /// copy); so does a count from a gateway that predates the list's flag, once `requeueMissed` has run.
    @Test func aDayCountedDuringItsRollUpOrByAnOlderGatewayStaysListed() async throws {
        let client = try await Self.postgres()
        let store = PlayStore(client: client)
        let ids = try await Self.generations(2, in: client)
        let day = PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970))
        let (racing, older) = (PlayKey(requestID: ids[0], day: day), PlayKey(requestID: ids[1], day: day))
        try await store.add([racing: PlayCounts(plays: 1), older: PlayCounts(plays: 1)])
        let read = try await store.pendingRollUp(limit: 1_000_000).filter { $0.key == racing || $0.key == older }
        #expect(read.count == 2)
        try await store.add([racing: PlayCounts(plays: 1)])
        for pending in read { try await store.rolledUp(pending, viewers: 1, sketch: nil) }
        var listed = Set(try await store.pendingRollUp(limit: 1_000_000).map(\.key))
        #expect(listed.contains(racing), "counted after the roll-up read it")
        #expect(!listed.contains(older))

        // A gateway before migration 0007 adds without setting the flag.
        _ = try await client.query(
            "UPDATE plays_daily SET plays = plays + 1, updated_at = now() WHERE request_id = $1 AND day = $2::date",
            [older.requestID, older.day.description])
        #expect(!Set(try await store.pendingRollUp(limit: 1_000_000).map(\.key)).contains(older))
        #expect(try await store.requeueMissed() >= 1)
        listed = Set(try await store.pendingRollUp(limit: 1_000_000).map(\.key))
        #expect(listed.contains(older))
        await client.shutdown()
    }

    /// A sketch's lifetime is set when a flush changes it, not on every flush that names it: a flush of viewers it
    /// already holds leaves its expiry alone; a new viewer sets it again.
    @Test func aSketchsLifetimeIsSetWhenItGainsAViewer() async throws {
        let redis = try Self.redis()
        let sketches = RedisViewerSketches(client: redis)
        let key = PlayKey(requestID: "plays-\(UUID().uuidString.prefix(8))", day: PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970)))
        let name = RedisViewerSketches.key(key.requestID, key.day)
        func lifetime() async throws -> Int64 {
            guard case .integer(let milliseconds) = try await redis.send(.timeToLive(name)) else { return -3 }
            return milliseconds
        }
        try await sketches.add([key: [1, 2]], keepDays: 2)
        #expect(try await lifetime() > 86_400_000)
        _ = try run(
            "redis-cli", ["-p", LocalStack.environment["REDIS_PORT"] ?? "6379", "-n", "1", "pexpire", String(decoding: name, as: UTF8.self), "60000"])
        try await sketches.add([key: [2, 1]], keepDays: 2)
        let unchanged = try await lifetime()
        #expect(unchanged > 0 && unchanged <= 60_000, "no new viewer: the lifetime stays (\(unchanged) ms)")
        try await sketches.add([key: [3]], keepDays: 2)
        #expect(try await lifetime() > 86_400_000, "a new viewer: the lifetime is set again")
        #expect(try await sketches.counts(requestID: key.requestID, days: [key.day])[key.day] == 3)
        await redis.shutdown()
    }

    /// Over the real stores: a viewer who plays again is not sent to Redis again, and the stats still count every play
    /// and each viewer once; a new viewer is sent.
    @Test func aRepeatViewerIsWrittenOnceAndCountedOnce() async throws {
        let client = try await Self.postgres()
        let redis = try Self.redis()
        let sketches = RecordingSketches(RedisViewerSketches(client: redis))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let plays = Plays(ledger: PlayStore(client: client), sketches: sketches, group: group, logger: Self.logger)
        await plays.prepare()
        let id = try await Self.generations(1, in: client)[0]
        let loop = group.next()
        func play(_ subjects: [String]) async throws {
            try await loop.submit {
                for subject in subjects {
                    plays.record(
                        requestID: id, shareCode: nil, subject: subject, client: nil, userAgent: nil,
                        now: Int64(Date().timeIntervalSince1970), on: loop)
                }
            }.get()
            await plays.flush()
        }
        try await play(["alice", "bob", "alice"])
        try await play(["bob", "alice"])
        try await play(["carol", "bob"])
        #expect(sketches.adds == [2, 1], "alice and bob, then carol alone")
        let today = PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970))
        let stats = try await plays.stats(requestID: id, from: today, to: today)
        #expect(stats.totalPlays == 7 && stats.totalViewers == 3, "\(stats)")
        try await group.shutdownGracefully()
        await redis.shutdown()
        await client.shutdown()
    }
}
