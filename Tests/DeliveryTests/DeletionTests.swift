import DeliveryTesting
import Logging
import NIOCore
import Testing
import UsherCrypto

@testable import Delivery

/// Deletion, retention and listing over the in-memory stores (their SQL against PostgreSQL: `DeletionIntegrationTests`).
@Suite struct DeletionTests {
    @Test func aDeletionReachesTheRowTheCachesTheSharesAndTheBucket() async throws {
        let fixture = DeliveryFixture()
        try await fixture.registerCompleted("del-1")
        let share = try #require(try await fixture.shares.create(requestID: "del-1", ttlSeconds: 600, maxUses: nil))
        let loop = fixture.group.next()
        _ = try await loop.flatSubmit { fixture.shares.resolve(share.code, on: loop) }.get()

        #expect(try await fixture.generations.delete("del-1"))
        let row = try #require(try await fixture.store.find("del-1"))
        #expect(row.status == .deleted && row.deletedAt != nil && row.objectKey == nil)
        #expect(!fixture.bucket.contains("videos/del-1.mp4"))
        #expect(fixture.cachedRecord("del-1")?.status == .deleted)
        guard case .found(let record) = try await loop.flatSubmit({ fixture.shares.resolve(share.code, on: loop) }).get() else {
            Issue.record("share not found")
            return
        }
        #expect(record.revoked, "the share's cached record became a tombstone")
        #expect(fixture.revocations.takesDown("del-1", now: 0), "this instance treats it as taken down at once")

        #expect(try await fixture.generations.delete("del-1"), "deleting again is fine")
        #expect(try await !fixture.generations.delete("nobody"))
    }

    @Test func anotherInstanceStopsServingItOnItsNextPoll() async throws {
        let fixture = DeliveryFixture()
        try await fixture.registerCompleted("del-2")
        let other = Revocations(cache: fixture.cache, store: fixture.store, logger: Logger(label: "other-instance"))
        await other.poll()
        #expect(!other.takesDown("del-2", now: 0))
        _ = try await fixture.generations.delete("del-2")
        await other.poll()
        #expect(other.takesDown("del-2", now: 0))
    }

    @Test func aBucketThatFailsLeavesTheDeletionToBeFinished() async throws {
        let fixture = DeliveryFixture()
        try await fixture.registerCompleted("del-3")
        fixture.bucket.isAvailable = false
        await #expect(throws: Generations.DeletionFailure.self) { try await fixture.generations.delete("del-3") }
        #expect(try await fixture.store.find("del-3")?.status == .deleted, "viewers are refused already")
        #expect(fixture.bucket.contains("videos/del-3.mp4"))

        fixture.bucket.isAvailable = true
        var report = try await fixture.generations.sweep()
        #expect(report.objectsRemoved == 0, "too recent: the deleting call may still be running")
        try fixture.store.backdateDeletion("del-3", seconds: 120)
        report = try await fixture.generations.sweep()
        #expect(report.objectsRemoved == 1 && !fixture.bucket.contains("videos/del-3.mp4"))
        #expect(try await fixture.store.find("del-3")?.objectKey == nil)
    }

    @Test func anObjectAnotherGenerationServesStaysInTheBucket() async throws {
        let fixture = DeliveryFixture()
        try await fixture.registerCompleted("twin-1", objectKey: "videos/shared.mp4")
        try await fixture.registerCompleted("twin-2", objectKey: "videos/shared.mp4")
        #expect(try await fixture.generations.delete("twin-1"))
        #expect(fixture.bucket.contains("videos/shared.mp4"), "twin-2 still serves it")
        #expect(try await fixture.store.find("twin-1")?.objectKey == nil)
        #expect(try await fixture.generations.delete("twin-2"))
        #expect(!fixture.bucket.contains("videos/shared.mp4"), "the last one takes it")
    }

    @Test func aLateWebhookChangesNothing() async throws {
        let fixture = DeliveryFixture()
        _ = try await fixture.generations.register(requestID: "del-4", owner: "o", visibility: .private, objectKey: nil, cdnURL: nil)
        _ = try await fixture.generations.delete("del-4")
        #expect(
            try await fixture.generations.acceptVideo(requestID: "del-4", sourceURL: "https://v.fal.media/x.mp4", contentType: nil, fileSize: nil)
                == .unchanged)
        #expect(try await fixture.generations.rejectVideo(requestID: "del-4", sourceURL: nil, reason: "late") == .unchanged)
        #expect(try await fixture.store.find("del-4")?.status == .deleted)
    }

    @Test func retentionDeletesWhatExpiredAndPurgesOldRows() async throws {
        var configuration = Generations.Configuration()
        configuration.retentionDays = 7
        let fixture = DeliveryFixture(generations: configuration)
        try await fixture.registerCompleted("keep-1")
        #expect(try await fixture.store.find("keep-1")?.expiresAt != nil, "USHER_RETENTION_DAYS sets expires_at")
        fixture.bucket.put("videos/old-1.mp4")
        _ = try await fixture.generations.register(
            requestID: "old-1", owner: "o", visibility: .private, objectKey: "videos/old-1.mp4", cdnURL: "https://cdn.test/videos/old-1.mp4",
            expiresAt: "2020-01-01T00:00:00Z")

        let report = try await fixture.generations.sweep()
        #expect(report.expired == 1 && report.objectsRemoved == 1)
        #expect(try await fixture.store.find("old-1")?.status == .deleted && !fixture.bucket.contains("videos/old-1.mp4"))
        #expect(try await fixture.store.find("keep-1")?.status == .completed)

        try fixture.store.backdateDeletion("old-1", seconds: 31 * 86_400)
        #expect(try await fixture.generations.sweep().purged == 1)
        #expect(try await fixture.store.find("old-1") == nil)
    }

    @Test func aMalformedExpiryIsInvalidInput() async throws {
        let fixture = DeliveryFixture()
        await #expect {
            _ = try await fixture.generations.register(
                requestID: "bad-1", owner: "o", visibility: .private, objectKey: nil, cdnURL: nil, expiresAt: "tomorrow")
        } throws: { ($0 as? any StorageFailure)?.isInvalidInput == true }
    }

    @Test func cursorsRoundTripAndRefuseForgeries() {
        let cursor = GenerationCursor(createdAt: "2026-12-03T22:00:00.123456Z", requestID: "gen-1")
        #expect(GenerationCursor(token: cursor.token) == cursor)
        #expect(GenerationCursor(token: "not base64!") == nil)
        #expect(GenerationCursor(token: Base64Token.of("2026-12-03T22:00:00Z ../etc")) == nil)
        #expect(GenerationCursor(token: Base64Token.of("no-space")) == nil)
    }
}

private enum Base64Token {
    static func of(_ text: String) -> String { Base64URL.encode(Array(text.utf8)) }
}
