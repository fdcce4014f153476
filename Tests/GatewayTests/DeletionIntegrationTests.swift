import Delivery
import Foundation
import ServerTestSupport
import Testing
import UsherServer
import UsherTestSupport

/// Deletion, retention and listing against the real stack: PostgreSQL's statements, SeaweedFS's bucket, two
/// instances sharing Redis.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct DeletionIntegrationTests {
    static let admin = [("Authorization", "Bearer \(TestServer.adminToken)"), ("Content-Type", "application/json")]
    static let video = Data((0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })

    func completedVideo(_ server: TestServer, expiresAt: String? = nil) async throws -> (id: String, key: String) {
        let id = try await server.registerVideo(uniqueID("del"), owner: "app-del", expiresAt: expiresAt, upload: Self.video)
        return (id, "videos/\(id).mp4")
    }

    func delete(_ server: TestServer, _ id: String) async throws -> Int {
        try await TestHTTP.request(server.appURL + "/v1/generations/\(id)", method: "DELETE", headers: Self.admin).status
    }

    @Test func aDeletedVideoIsGoneEverywhereWithinASecond() async throws {
        let first = try await TestServer.start()
        let second = try await TestServer.start()
        let (id, key) = try await completedVideo(first)
        let token = try first.token(videoIDs: [id])
        // Each test server has keys of its own.
        let secondToken = try second.token(videoIDs: [id])
        let shared = try await TestHTTP.request(
            first.appURL + "/v1/shares", method: "POST", headers: Self.admin, body: Data(#"{"request_id":"\#(id)","ttl_seconds":600}"#.utf8))
        let code = try #require((try JSONSerialization.jsonObject(with: shared.body) as? [String: Any])?["code"] as? String)
        // An upload of the same key that never finished (a worker killed mid-way): deleting aborts it too.
        let started = try await first.s3("POST", key: key, query: [("uploads", "")])
        #expect(started.status == 200)
        // Both instances serve it, and hold it in their in-process caches.
        #expect(try await TestHTTP.request("\(first.edgeURL)/v/\(id)?token=\(token)").status == 302)
        #expect(try await TestHTTP.request("\(second.edgeURL)/v/\(id)?token=\(secondToken)").status == 302)
        #expect(try await TestHTTP.request("\(second.edgeURL)/s/\(code)").status == 302)

        let deletedAt = ContinuousClock.now
        #expect(try await delete(first, id) == 204)
        #expect(try await TestHTTP.request("\(first.edgeURL)/v/\(id)?token=\(token)").status == 410)
        var secondAnswers = 0
        while ContinuousClock.now - deletedAt < .seconds(1) {
            secondAnswers = try await TestHTTP.request("\(second.edgeURL)/v/\(id)?token=\(secondToken)").status
            if secondAnswers == 410 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(secondAnswers == 410, "the other instance stops within 1 s")
        #expect(try await TestHTTP.request("\(second.edgeURL)/s/\(code)").status == 410)
        #expect(try await TestHTTP.request("\(first.edgeURL)/s/\(code)").status == 410)

        #expect(try await first.s3("HEAD", key: key).status == 404, "the object left the bucket")
        let uploads = try await first.s3("GET", key: nil, query: [("uploads", ""), ("prefix", key)])
        #expect(!String(decoding: uploads.body, as: UTF8.self).contains("<UploadId>"), "no unfinished upload is left")

        let shown = try await TestHTTP.request(first.appURL + "/v1/generations/\(id)", headers: Self.admin)
        let json = try #require(try JSONSerialization.jsonObject(with: shown.body) as? [String: Any])
        #expect(json["status"] as? String == "DELETED" && json["deleted_at"] is String && json["object_key"] is NSNull)

        #expect(try await delete(first, id) == 204, "again → 204")
        #expect(try await delete(second, uniqueID("nobody")) == 404)
        #expect(try await delete(first, "bad*id") == 400)
        // fal's late duplicate webhook finds the row deleted and changes nothing (the statement the webhook runs).
        #expect(
            try await first.services.generations.acceptVideo(requestID: id, sourceURL: "https://v3.fal.media/x.mp4", contentType: nil, fileSize: nil)
                == .unchanged)
        #expect(try await first.services.generations.store.find(id)?.status == .deleted)
        try await first.stop()
        try await second.stop()
    }

    @Test func `usher delete does the same`() async throws {
        let server = try await TestServer.start()
        let (id, key) = try await completedVideo(server)
        let run = try UsherBinary.run(["delete", id], environment: LocalStack.usherEnvironment())
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try await server.s3("HEAD", key: key).status == 404)
        #expect(try await server.services.generations.store.find(id)?.status == .deleted)
        let unknown = try UsherBinary.run(["delete", uniqueID("nobody")], environment: LocalStack.usherEnvironment())
        #expect(unknown.status != 0 && unknown.stderr.contains("no generation"))
        try await server.stop()
    }

    @Test func anObjectTwoGenerationsShareIsRemovedWithTheLastOne() async throws {
        let server = try await TestServer.start()
        let key = "videos/\(uniqueID("shared")).mp4"
        let first = try await server.registerVideo(uniqueID("twin"), key: key, upload: Self.video)
        let second = try await server.registerVideo(uniqueID("twin"), key: key)
        #expect(try await delete(server, first) == 204)
        #expect(try await server.s3("HEAD", key: key).status == 200, "the other generation still serves it")
        #expect(try await delete(server, second) == 204)
        #expect(try await server.s3("HEAD", key: key).status == 404)
        try await server.stop()
    }

    @Test func retentionDeletesExpiredGenerationsInOneSweep() async throws {
        let server = try await TestServer.start(["USHER_RETENTION_SWEEP_INTERVAL": "0.2"], roles: "gateway,webhook,worker")
        let (id, key) = try await completedVideo(server, expiresAt: "2020-01-01T00:00:00Z")
        let (kept, _) = try await completedVideo(server, expiresAt: "2999-01-01T00:00:00Z")
        let deadline = ContinuousClock.now + .seconds(5)
        while try await server.services.generations.store.find(id)?.status != .deleted, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await server.services.generations.store.find(id)?.status == .deleted)
        #expect(try await server.services.generations.store.find(kept)?.status == .completed)
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await server.s3("HEAD", key: key).status == 404)
        let bad = try await server.register(#"{"request_id":"\#(uniqueID("del"))","owner":"o","expires_at":"2026-13-45T00:00:00Z"}"#)
        #expect(bad.status == 400)
        try await server.stop()
    }

    @Test func aLibraryReadsBackInPagesWithNoDuplicatesOrGapsWhileItGrows() async throws {
        let server = try await TestServer.start()
        let owner = uniqueID("owner")
        var registered: Set<String> = []
        for _ in 0..<250 {
            let id = uniqueID("lib")
            #expect(try await server.register(#"{"request_id":"\#(id)","owner":"\#(owner)"}"#).status == 201)
            registered.insert(id)
        }
        let writer = Task {
            for _ in 0..<50 { _ = try await server.register(#"{"request_id":"\#(uniqueID("new"))","owner":"\#(owner)"}"#) }
        }
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let url = server.appURL + "/v1/generations?owner=\(owner)&limit=50" + (cursor.map { "&cursor=\($0)" } ?? "")
            let reply = try await TestHTTP.request(url, headers: Self.admin)
            #expect(reply.status == 200)
            let json = try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
            let items = try #require(json["items"] as? [[String: Any]])
            #expect(items.count <= 50)
            let times = items.compactMap { $0["created_at"] as? String }
            #expect(times == times.sorted(by: >), "newest first")
            seen += items.compactMap { $0["request_id"] as? String }
            cursor = json["next_cursor"] as? String
            pages += 1
        } while cursor != nil && pages < 20
        try await writer.value
        #expect(Set(seen).count == seen.count, "no duplicates")
        #expect(registered.isSubset(of: Set(seen)), "no gaps: every generation registered before the first page is read back")

        let bad = [
            "/v1/generations", "/v1/generations?owner=\(owner)&limit=0", "/v1/generations?owner=\(owner)&limit=201",
            "/v1/generations?owner=\(owner)&status=LOST", "/v1/generations?owner=\(owner)&cursor=forged",
        ]
        for path in bad { #expect(try await TestHTTP.request(server.appURL + path, headers: Self.admin).status == 400, "\(path)") }
        let pending = try await TestHTTP.request(server.appURL + "/v1/generations?owner=\(owner)&status=pending&limit=1", headers: Self.admin)
        #expect(pending.status == 200)
        try await server.stop()
    }
}
