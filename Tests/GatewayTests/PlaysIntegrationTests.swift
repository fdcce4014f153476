import Foundation
import ServerTestSupport
import Testing
import UsherCrypto
import UsherServer
import UsherTestSupport
import ViewerAuth

/// Play analytics against the real stack: the edge counting, Postgres rows, Redis HyperLogLogs.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct PlaysIntegrationTests {
    static let admin = [("Authorization", "Bearer \(TestServer.adminToken)"), ("Content-Type", "application/json")]

    static func stats(_ server: TestServer, _ id: String, query: String = "") async throws -> [String: Any] {
        let reply = try await TestHTTP.request(server.appURL + "/v1/generations/\(id)/stats\(query)", headers: admin)
        #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")
        return try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
    }

    static func total(_ stats: [String: Any], _ name: String) -> Int? {
        (stats["total"] as? [String: Any])?[name] as? Int
    }

    @Test func playsAreCountedExactlyUnderConcurrencyAndOnlyFor302s() async throws {
        let server = try await TestServer.start()
        var registered: [String] = []
        for _ in 0..<20 { registered.append(try await server.registerVideo(uniqueID("play"))) }
        let ids = registered
        let token = try server.token(owner: "o")
        // 10 clients × 1,000 GETs, spread over the 20 ids by a fixed rule, so each id's count is known.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<10 {
                group.addTask {
                    for request in 0..<1000 {
                        let id = ids[(client * 7 + request) % 20]
                        let reply = try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)")
                        guard reply.status == 302 else { throw ProcessFailure(description: "GET answered \(reply.status)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        var expected = [String: Int]()
        for client in 0..<10 { for request in 0..<1000 { expected[ids[(client * 7 + request) % 20], default: 0] += 1 } }
        // Not plays: HEAD, a refused token, a 404.
        _ = try await TestHTTP.request("\(server.edgeURL)/v/\(ids[0])?token=\(token)", method: "HEAD")
        _ = try await TestHTTP.request("\(server.edgeURL)/v/\(ids[0])?token=forged.token.here")
        _ = try await TestHTTP.request("\(server.edgeURL)/v/\(uniqueID("nobody"))?token=\(token)")
        // A share's GETs are plays and share plays.
        let shared = try await TestHTTP.request(
            server.appURL + "/v1/shares", method: "POST", headers: Self.admin, body: Data(#"{"request_id":"\#(ids[0])","ttl_seconds":600}"#.utf8))
        let code = try #require((try JSONSerialization.jsonObject(with: shared.body) as? [String: Any])?["code"] as? String)
        for _ in 0..<5 { #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(code)").status == 302) }
        _ = try await TestHTTP.request("\(server.edgeURL)/s/\(code)", method: "HEAD")

        // Visible within 5 s (flushed every second).
        let deadline = ContinuousClock.now + .seconds(5)
        var first: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            first = try await Self.stats(server, ids[0])
            if Self.total(first, "plays") == (expected[ids[0]] ?? 0) + 5 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(Self.total(first, "plays") == (expected[ids[0]] ?? 0) + 5)
        #expect(Self.total(first, "share_plays") == 5)
        #expect(Self.total(first, "viewers") == 2, "one token's sub, and the share's client (IP and User-Agent)")
        for id in ids.dropFirst() {
            #expect(Self.total(try await Self.stats(server, id), "plays") == expected[id], "\(id)")
        }
        let days = try #require(first["days"] as? [[String: Any]])
        #expect(days.count == 30 && (days.last?["plays"] as? Int) == Self.total(first, "plays"))
        #expect(try await TestHTTP.request(server.appURL + "/v1/generations/\(uniqueID("nobody"))/stats", headers: Self.admin).status == 404)
        #expect(try await TestHTTP.request(server.appURL + "/v1/generations/\(ids[0])/stats?from=2026-02-30", headers: Self.admin).status == 400)
        #expect(
            try await TestHTTP.request(server.appURL + "/v1/generations/\(ids[0])/stats?from=2020-01-01&to=2026-01-01", headers: Self.admin).status
                == 400)
        try await server.stop()
    }

    @Test func distinctViewersAreWithinTwoPercent() async throws {
        let server = try await TestServer.start()
        let id = try await server.registerVideo(uniqueID("hll"))
        let viewers = 10_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<10 {
                group.addTask {
                    for viewer in stride(from: client, to: viewers, by: 10) {
                        let now = Int64(Date().timeIntervalSince1970)
                        var claims = ViewerTokenMinter.Claims(issuedAt: now, expiresAt: now + 600)
                        claims.videoIDs = [id]
                        claims.subject = "viewer-\(viewer)"
                        let token = try server.minter.mint(claims)
                        _ = try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)")
                    }
                }
            }
            try await group.waitForAll()
        }
        try await Task.sleep(for: .seconds(2))
        let stats = try await Self.stats(server, id)
        let counted = try #require(Self.total(stats, "viewers"))
        #expect(Self.total(stats, "plays") == viewers)
        #expect(abs(counted - viewers) <= viewers / 50, "HyperLogLog estimate \(counted) for \(viewers)")
        try await server.stop()
    }

    @Test func playsOutliveARedisOutageAndAShutdown() async throws {
        let server = try await TestServer.start()
        let id = try await server.registerVideo(uniqueID("outage"), visibility: "public")
        try await LocalStack.whileStopped("redis") {
            for _ in 0..<20 { _ = try await TestHTTP.request("\(server.edgeURL)/v/\(id)", headers: [("User-Agent", "outage-test")]) }
            try await Task.sleep(for: .seconds(2))
        }
        // Counts went to Postgres at once; the viewer sketch once Redis was back.
        #expect(
            try await LocalStack.eventually(within: 10) {
                // 503 while the client reconnects to the restarted Redis.
                let reply = try await TestHTTP.request(server.appURL + "/v1/generations/\(id)/stats", headers: Self.admin)
                guard reply.status == 200, let json = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any] else { return false }
                return Self.total(json, "viewers") == 1
            })
        #expect(Self.total(try await Self.stats(server, id), "plays") == 20)
        // SIGTERM right after plays: the last flush runs after the edge's last answer.
        for _ in 0..<7 { _ = try await TestHTTP.request("\(server.edgeURL)/v/\(id)") }
        try await server.stop()
        let reader = try await TestServer.start()
        #expect(Self.total(try await Self.stats(reader, id), "plays") == 27)
        try await reader.stop()
    }
}
