import DeliveryTesting
import Testing

@testable import Delivery

/// Every write to a generation leaves the shared cache saying what the store says, without the caller's help.
@Suite struct GenerationsTests {
    @Test func registrationIsIdempotentAndConflictsAreReported() async throws {
        let fixture = DeliveryFixture()
        guard case .created = try await fixture.registerCompleted("r-1") else {
            Issue.record("not created")
            return
        }
        guard case .unchanged = try await fixture.registerCompleted("r-1") else {
            Issue.record("not unchanged")
            return
        }
        guard case .conflict = try await fixture.registerCompleted("r-1", owner: "someone-else") else {
            Issue.record("no conflict")
            return
        }
        #expect(fixture.cachedRecord("r-1")?.owner == "owner-1")
    }

    @Test func webhookIntakeIsCachedAndDuplicatesChangeNothing() async throws {
        let fixture = DeliveryFixture()
        _ = try await fixture.generations.register(requestID: "w-1", owner: "o", visibility: .private, objectKey: nil, cdnURL: nil)
        #expect(fixture.cachedRecord("w-1")?.status == .pending)
        let first = try await fixture.generations.acceptVideo(
            requestID: "w-1", sourceURL: "https://v.fal.media/a.mp4", contentType: nil, fileSize: nil)
        let again = try await fixture.generations.acceptVideo(
            requestID: "w-1", sourceURL: "https://v.fal.media/a.mp4", contentType: nil, fileSize: nil)
        #expect(first == .enqueued && again == .unchanged)
        #expect(fixture.cachedRecord("w-1")?.status == .mirroring)
        #expect(fixture.cachedRecord("w-1")?.falURL == "https://v.fal.media/a.mp4")

        #expect(try await fixture.generations.rejectVideo(requestID: "w-2", sourceURL: nil, reason: "fal error") == .failed)
        #expect(fixture.cachedRecord("w-2")?.status == .failed)
    }

    @Test func onlyTheLeaseHolderFinishesAJob() async throws {
        let fixture = DeliveryFixture()
        _ = try await fixture.generations.acceptVideo(requestID: "j-1", sourceURL: "https://v.fal.media/j.mp4", contentType: nil, fileSize: nil)
        let job = try #require(try fixture.store.claim(requestID: "j-1", worker: "w1"))
        try await fixture.generations.fail(job, worker: "w2", error: "not mine")
        #expect(try await fixture.store.find("j-1")?.status == .mirroring)
        try await fixture.generations.complete(
            job, worker: "w1", objectKey: "videos/j-1.mp4", cdnURL: "https://cdn.test/videos/j-1.mp4", contentType: "video/mp4", sizeBytes: 3)
        #expect(fixture.cachedRecord("j-1")?.status == .completed)
        #expect(fixture.cachedRecord("j-1")?.objectKey == "videos/j-1.mp4")
    }

    @Test func aWriteWhileTheCacheIsDownStillLandsInTheStore() async throws {
        let fixture = DeliveryFixture()
        fixture.cache.isAvailable = false
        try await fixture.registerCompleted("down-1")
        fixture.cache.isAvailable = true
        #expect(try await fixture.store.find("down-1")?.status == .completed)
        #expect(fixture.cachedRecord("down-1") == nil, "nothing stale was cached")
    }

    @Test func reloadCacheTakesAChangeMadeOutsideUsher() async throws {
        let fixture = DeliveryFixture()
        try await fixture.registerCompleted("x-1")
        // What an operator's UPDATE would do behind the services' back:
        _ = try await fixture.store.acceptVideo(requestID: "x-2", sourceURL: "https://v.fal.media/x.mp4", contentType: nil, fileSize: nil)
        #expect(fixture.cachedRecord("x-2") == nil)
        await fixture.generations.reloadCache("x-2")
        #expect(fixture.cachedRecord("x-2")?.status == .mirroring)
    }
}
