import Delivery
import DeliveryTesting
import NIOCore
import Testing

/// The read path's layers over the in-memory stores: what each layer answers, fills and forgets.
@Suite struct GenerationLookupTests {
    /// The in-process layer off, so each `resolve` shows what the shared cache and the store do.
    static func fixture() -> DeliveryFixture {
        var configuration = GenerationLookup.Configuration()
        configuration.localTTL = .zero
        return DeliveryFixture(lookup: configuration)
    }

    @Test func aMissReadsTheStoreOnceAndFillsTheSharedCache() async throws {
        let fixture = Self.fixture()
        try await fixture.registerCompleted("gen-1")
        // Registration wrote the record; drop it to see a read-through.
        try await fixture.cache.delete(Array("usher:gen:gen-1".utf8), on: nil).get()

        guard case .found(let record) = try await fixture.resolve("gen-1") else {
            Issue.record("not found")
            return
        }
        #expect(record.status == .completed && record.objectKey == "videos/gen-1.mp4")
        #expect(fixture.store.deliveryReadCount == 1)
        #expect(fixture.cache.peek("usher:gen:gen-1") != nil)

        #expect(try await fixture.resolve("gen-1") == .found(record))
        #expect(fixture.store.deliveryReadCount == 1, "the second read is the shared cache's")
    }

    @Test func unknownIdsAreRememberedSoAFloodCostsOneStoreRead() async throws {
        let fixture = Self.fixture()
        for _ in 0..<5 { #expect(try await fixture.resolve("nobody") == .absent) }
        #expect(fixture.store.deliveryReadCount == 1)
        #expect(fixture.cache.peek("usher:gen:nobody") == [UInt8(ascii: "0")])
    }

    @Test func registeringReplacesACachedUnknown() async throws {
        let fixture = Self.fixture()
        #expect(try await fixture.resolve("late") == .absent)
        try await fixture.registerCompleted("late")
        guard case .found(let record) = try await fixture.resolve("late") else {
            Issue.record("still absent")
            return
        }
        #expect(record.status == .completed)
    }

    @Test func theStoreAnswersWhileTheCacheIsDownAndNothingIsWrittenBack() async throws {
        let fixture = Self.fixture()
        try await fixture.registerCompleted("gen-2")
        try await fixture.cache.delete(Array("usher:gen:gen-2".utf8), on: nil).get()
        fixture.cache.isAvailable = false
        guard case .found = try await fixture.resolve("gen-2") else {
            Issue.record("not found")
            return
        }
        fixture.cache.isAvailable = true
        #expect(fixture.cache.peek("usher:gen:gen-2") == nil)
    }

    @Test func bothDownIsUnavailableNeverAbsent() async throws {
        let fixture = Self.fixture()
        fixture.cache.isAvailable = false
        fixture.store.isAvailable = false
        #expect(try await fixture.resolve("gen-3") == .unavailable)
    }

    @Test func theInProcessLayerAnswersWithoutAFutureAndForgetsOnAWrite() async throws {
        let fixture = DeliveryFixture()
        try await fixture.registerCompleted("gen-4")
        let loop = fixture.group.next()
        _ = try await loop.flatSubmit { fixture.lookup.resolve("gen-4", on: loop) }.get()
        let cached = try await loop.submit { fixture.lookup.cached("gen-4", on: loop) }.get()
        guard case .found(let record)? = cached else {
            Issue.record("not cached in-process")
            return
        }
        #expect(record.status == .completed)

        // A write through `Generations` drops every loop's copy (the job below completes the mirror).
        _ = try await fixture.generations.acceptVideo(
            requestID: "gen-5", sourceURL: "https://v.fal.media/x.mp4", contentType: "video/mp4", fileSize: nil)
        _ = try await loop.flatSubmit { fixture.lookup.resolve("gen-5", on: loop) }.get()
        let job = try #require(try fixture.store.claim(requestID: "gen-5", worker: "w1"))
        try await fixture.generations.complete(
            job, worker: "w1", objectKey: "videos/gen-5.mp4", cdnURL: "https://cdn.test/videos/gen-5.mp4", contentType: "video/mp4", sizeBytes: 10)
        // `forgetLocally` runs on each loop: a task submitted after it sees the copy gone.
        let after = try await loop.submit { fixture.lookup.cached("gen-5", on: loop) }.get()
        #expect(after == nil)
        guard case .found(let fresh) = try await fixture.resolve("gen-5") else {
            Issue.record("not found")
            return
        }
        #expect(fresh.status == .completed && fresh.objectKey == "videos/gen-5.mp4")
    }
}
