import Delivery
import DeliveryTesting
import NIOCore
import NIOPosix
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

    /// The edge's form of the lookup (a callback, no future of its own) answers on the caller's loop, even from a cache
    /// that answers on another thread, and always answers: a store that is down is `.unavailable`.
    @Test func theCallbackLookupAnswersOnTheCallersLoopWhateverTheCacheDoes() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let elsewhere = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = GenerationLookup.Configuration()
        configuration.localTTL = .zero
        let fixture = DeliveryFixture(lookup: configuration, group: group)
        try await fixture.registerCompleted("gen-1")
        let lookup = GenerationLookup(
            configuration: configuration, cache: ElsewhereCache(fixture.cache, answeringOn: elsewhere.next()), store: fixture.store, group: group)
        let loop = group.next()

        func resolve(_ id: String) async -> (LookupOutcome, onLoop: Bool) {
            await withCheckedContinuation { continuation in
                lookup.resolve(id[...], on: loop) { outcome in continuation.resume(returning: (outcome, loop.inEventLoop)) }
            }
        }
        let hit = await resolve("gen-1")
        #expect(hit.onLoop)
        guard case .found(let record) = hit.0 else {
            Issue.record("not found: \(hit.0)")
            return
        }
        #expect(record.objectKey == "videos/gen-1.mp4")
        // A miss goes to the store; with the store down the answer is `.unavailable`, never none.
        fixture.store.isAvailable = false
        let down = await resolve("gen-2")
        #expect(down.onLoop && down.0 == .unavailable)
        fixture.store.isAvailable = true
        let absent = await resolve("gen-3")
        #expect(absent.onLoop && absent.0 == .absent)
        try await group.shutdownGracefully()
        try await elsewhere.shutdownGracefully()
    }
}

/// A shared cache whose reads complete on a loop of its own, as a client of another event-loop group would.
private struct ElsewhereCache: KeyValueCache {
    let base: InMemoryCache
    let loop: any EventLoop

    init(_ base: InMemoryCache, answeringOn loop: any EventLoop) {
        self.base = base
        self.loop = loop
    }

    func get(_ key: [UInt8], on _: (any EventLoop)?) -> EventLoopFuture<[UInt8]?> { base.get(key, on: loop) }

    func set(_ key: [UInt8], _ value: [UInt8], expireSeconds: Int, onlyIfAbsent: Bool, on _: (any EventLoop)?) -> EventLoopFuture<Void> {
        base.set(key, value, expireSeconds: expireSeconds, onlyIfAbsent: onlyIfAbsent, on: loop)
    }

    func delete(_ key: [UInt8], on _: (any EventLoop)?) -> EventLoopFuture<Void> { base.delete(key, on: loop) }

    func increment(_ key: [UInt8], on _: (any EventLoop)?) -> EventLoopFuture<Void> { base.increment(key, on: loop) }
}
