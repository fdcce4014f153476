import Foundation
import ServerTestSupport
import Testing
import UsherTestSupport

/// `USHER_RATE_LIMIT_RPS`/`_BURST`: per client IP and per viewer, in-process and shared through Redis.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct RateLimitTests {
    func statuses(_ url: String, count: Int, headers: [(String, String)] = []) async throws -> [Int] {
        var all: [Int] = []
        for _ in 0..<count { all.append(try await TestHTTP.request(url, headers: headers).status) }
        return all
    }

    func video(_ server: TestServer) async throws -> String {
        try await server.registerVideo(uniqueID("rl"), visibility: "public")
    }

    @Test func aClientOverItsBurstGets429WithRetryAfterThenRecovers() async throws {
        let server = try await TestServer.start(["USHER_RATE_LIMIT_RPS": "2", "USHER_RATE_LIMIT_BURST": "3"])
        let id = try await video(server)
        let url = "\(server.edgeURL)/v/\(id)"
        #expect(try await statuses(url, count: 3) == [302, 302, 302])
        let limited = try await TestHTTP.request(url)
        #expect(limited.status == 429)
        #expect(limited.header("Retry-After") == "1")
        #expect(limited.header("Content-Type") == "application/problem+json")
        #expect(try await TestHTTP.request("\(server.edgeURL)/healthz").status == 200, "health checks are never limited")
        try await Task.sleep(for: .milliseconds(1100))
        #expect(try await statuses(url, count: 2) == [302, 302], "2 tokens refilled after a second")
        try await server.stop()
    }

    @Test func theTrustedProxyHeaderNamesTheClientAndViewersAreLimitedByTheirSub() async throws {
        let server = try await TestServer.start([
            "USHER_RATE_LIMIT_RPS": "1", "USHER_RATE_LIMIT_BURST": "2", "USHER_TRUSTED_PROXY_HEADER": "X-Forwarded-For",
        ])
        let id = try await video(server)
        let url = "\(server.edgeURL)/v/\(id)"
        // Different clients behind the proxy have their own buckets; the last X-Forwarded-For entry counts.
        #expect(try await statuses(url, count: 2, headers: [("X-Forwarded-For", "203.0.113.9, 198.51.100.1")]) == [302, 302])
        #expect(try await statuses(url, count: 1, headers: [("X-Forwarded-For", "203.0.113.9, 198.51.100.1")]) == [429])
        #expect(try await statuses(url, count: 2, headers: [("X-Forwarded-For", "198.51.100.2")]) == [302, 302])
        // One viewer (sub "viewer-test") from many addresses is limited as one.
        let token = try server.token(videoIDs: [id])
        var viewer: [Int] = []
        for index in 0..<3 {
            viewer.append(try await TestHTTP.request(url + "?token=\(token)", headers: [("X-Forwarded-For", "192.0.2.\(index + 10)")]).status)
        }
        #expect(viewer == [302, 302, 429])
        try await server.stop()
    }

    @Test func withoutATrustedHeaderForwardedForIsIgnored() async throws {
        let server = try await TestServer.start(["USHER_RATE_LIMIT_RPS": "1", "USHER_RATE_LIMIT_BURST": "2"])
        let id = try await video(server)
        var seen: [Int] = []
        for index in 0..<3 {
            seen.append(try await TestHTTP.request("\(server.edgeURL)/v/\(id)", headers: [("X-Forwarded-For", "192.0.2.\(index)")]).status)
        }
        #expect(seen == [302, 302, 429], "a client cannot pick its own address")
        try await server.stop()
    }

    @Test func sharedThroughRedisTwoInstancesLimitTogether() async throws {
        let settings = ["USHER_RATE_LIMIT_RPS": "1", "USHER_RATE_LIMIT_BURST": "3", "USHER_RATE_LIMIT_REDIS": "1"]
        let first = try await TestServer.start(settings)
        let second = try await TestServer.start(settings)
        let id = try await video(first)
        // Both instances see 127.0.0.1 (no trusted header): the bucket "ip:127.0.0.1" lives in Redis for ≤ 3 s.
        var seen: [Int] = []
        for server in [first, second, first, second] { seen.append(try await TestHTTP.request("\(server.edgeURL)/v/\(id)").status) }
        #expect(seen == [302, 302, 302, 429], "one bucket across both instances: \(seen)")
        let limited = try await TestHTTP.request("\(second.edgeURL)/v/\(id)")
        #expect(limited.status == 429)
        #expect(limited.header("Retry-After").flatMap { Int($0) }.map { (1...2).contains($0) } == true)
        try await first.stop()
        try await second.stop()
    }

    @Test func sharedBucketsFallBackToLocalOnesWhileRedisIsDown() async throws {
        let server = try await TestServer.start(["USHER_RATE_LIMIT_RPS": "1", "USHER_RATE_LIMIT_BURST": "3", "USHER_RATE_LIMIT_REDIS": "1"])
        let id = try await video(server)
        let url = "\(server.edgeURL)/v/\(id)"
        try await LocalStack.whileStopped("redis") {
            // Once the gateway knows Redis is gone, each request's Redis call fails at once and the local bucket decides.
            #expect(try await LocalStack.eventually { try await TestHTTP.request(server.edgeURL + "/readyz").status == 503 })
            let started = Date()
            let seen = try await statuses(url, count: 4)
            try #require(Date().timeIntervalSince(started) < 0.9, "the four requests must fit within one refill")
            #expect(seen == [302, 302, 302, 429], "still limited, by the local bucket, and still answered: \(seen)")
        }
        try await server.stop()
    }
}
