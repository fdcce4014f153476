import Delivery
import DeliveryTesting
import NIOCore
import Testing

@Suite struct ShareLinksTests {
    static func resolve(_ fixture: DeliveryFixture, _ code: String) async throws -> ShareOutcome {
        let loop = fixture.group.next()
        return try await loop.flatSubmit { fixture.shares.resolve(code, on: loop) }.get()
    }

    static func consume(_ fixture: DeliveryFixture, _ code: String) async throws -> Bool? {
        let loop = fixture.group.next()
        return try await loop.flatSubmit { fixture.shares.consume(code, on: loop) }.get()
    }

    @Test func aShareOfAnUnknownGenerationIsNotCreated() async throws {
        let fixture = DeliveryFixture()
        #expect(try await fixture.shares.create(requestID: "nobody", ttlSeconds: 60, maxUses: nil) == nil)
    }

    @Test func codesAreLongURLSafeAndDistinct() async throws {
        let fixture = DeliveryFixture()
        try await fixture.registerCompleted("s-0")
        var codes: Set<String> = []
        for _ in 0..<50 {
            let share = try #require(try await fixture.shares.create(requestID: "s-0", ttlSeconds: 60, maxUses: nil))
            #expect(ShareLinks.isValidCode(share.code) && share.code.utf8.count == 24 && !share.code.hasPrefix("-"))
            codes.insert(share.code)
        }
        #expect(codes.count == 50)
    }

    @Test func maxUsesAreTakenExactly() async throws {
        let fixture = DeliveryFixture()
        try await fixture.registerCompleted("s-1")
        let share = try #require(try await fixture.shares.create(requestID: "s-1", ttlSeconds: 60, maxUses: 2))
        var granted = 0
        for _ in 0..<5 where try await Self.consume(fixture, share.code) == true { granted += 1 }
        #expect(granted == 2)
    }

    @Test func revokingOverwritesTheCachedRecordAtOnce() async throws {
        let fixture = DeliveryFixture()
        try await fixture.registerCompleted("s-2")
        let share = try #require(try await fixture.shares.create(requestID: "s-2", ttlSeconds: 60, maxUses: nil))
        guard case .found(let before) = try await Self.resolve(fixture, share.code) else {
            Issue.record("not found")
            return
        }
        #expect(!before.revoked && before.requestID == "s-2")
        #expect(fixture.cache.peek("usher:share:\(share.code)") != nil, "the visit filled the cache")

        #expect(try await fixture.shares.revoke(code: share.code)?.revokedAt != nil)
        guard case .found(let after) = try await Self.resolve(fixture, share.code) else {
            Issue.record("not found")
            return
        }
        #expect(after.revoked)
        #expect(try await Self.consume(fixture, share.code) == false)
    }

    @Test func aRevocationWhoseCacheUpdateFailsSaysSo() async throws {
        let fixture = DeliveryFixture()
        try await fixture.registerCompleted("s-3")
        let share = try #require(try await fixture.shares.create(requestID: "s-3", ttlSeconds: 60, maxUses: nil))
        fixture.cache.isAvailable = false
        await #expect(throws: ShareLinks.Failure.self) { try await fixture.shares.revoke(code: share.code) }
        fixture.cache.isAvailable = true
        guard case .found(let record) = try await Self.resolve(fixture, share.code) else {
            Issue.record("not found")
            return
        }
        #expect(record.revoked, "the revocation is committed in the store")
    }

    @Test func unknownCodesAreRememberedAndAnOutageIsNotAbsent() async throws {
        let fixture = DeliveryFixture()
        let code = String(repeating: "A", count: 24)
        #expect(try await Self.resolve(fixture, code) == .absent)
        #expect(fixture.cache.peek("usher:share:\(code)") == [UInt8(ascii: "0")])
        fixture.cache.isAvailable = false
        fixture.store.isAvailable = false
        #expect(try await Self.resolve(fixture, String(repeating: "B", count: 24)) == .unavailable)
    }
}
