import DeliveryTesting
import Logging
import Testing
import ViewerAuth

@testable import Delivery

@Suite struct RevocationsTests {
    static func grant(jti: String? = nil, sub: String? = nil) -> ViewerGrant {
        ViewerGrant(subject: sub, tokenID: jti, videoIDs: ["v"], owner: nil, expiresAt: Int64.max)
    }

    @Test func failsClosedUntilTheListHasLoaded() async throws {
        let fixture = DeliveryFixture()
        #expect(!fixture.revocations.hasLoaded)
        fixture.store.isAvailable = false
        await #expect(throws: (any Error).self) { try await fixture.revocations.reload() }
        #expect(!fixture.revocations.hasLoaded)
        fixture.store.isAvailable = true
        try await fixture.revocations.reload()
        #expect(fixture.revocations.hasLoaded)
    }

    @Test func aRevocationIsInForceHereAtOnceAndUntilItsEnd() async throws {
        let fixture = DeliveryFixture()
        _ = try await fixture.revocations.add(.tokenID, value: "jti-1", until: nil)
        _ = try await fixture.revocations.add(.requestID, value: "video-1", until: "2000-01-01T00:00:00Z")
        let now: Int64 = 1_900_000_000
        #expect(fixture.revocations.revokes(Self.grant(jti: "jti-1"), now: now))
        #expect(!fixture.revocations.revokes(Self.grant(jti: "jti-2", sub: "someone"), now: now))
        #expect(!fixture.revocations.takesDown("video-1", now: now), "a revocation that ended is not in force")
        #expect(try await fixture.revocations.remove(.tokenID, value: "jti-1"))
        #expect(!fixture.revocations.revokes(Self.grant(jti: "jti-1"), now: now))
    }

    @Test func anotherInstanceSeesTheChangeOnItsNextPoll() async throws {
        let fixture = DeliveryFixture()
        let other = Revocations(cache: fixture.cache, store: fixture.store, logger: Logger(label: "other-instance"))
        await other.poll()
        #expect(other.hasLoaded && !other.takesDown("video-2", now: 0))
        _ = try await fixture.revocations.add(.requestID, value: "video-2", until: nil)
        await other.poll()
        #expect(other.takesDown("video-2", now: 0))
    }

    @Test func withoutTheCacheInstancesStillReloadFromTheStore() async throws {
        let fixture = DeliveryFixture()
        let other = Revocations(cache: fixture.cache, store: fixture.store, logger: Logger(label: "other-instance"))
        await other.poll()
        fixture.cache.isAvailable = false
        _ = try await fixture.revocations.add(.subject, value: "viewer-9", until: nil)
        try await Task.sleep(for: .milliseconds(1100))
        await other.poll()
        #expect(other.revokes(Self.grant(sub: "viewer-9"), now: 0))
    }
}
