import Foundation
import ServerTestSupport
import Testing
import UsherTestSupport

/// The whole lifecycle in a real browser: an ffmpeg MP4 offered by a stand-in for fal.media, a signed webhook,
/// the worker's mirror into SeaweedFS, then headless Chromium playing the demo page's `<video>` through
/// `/v/{id}?token=…` and through a share link (seek included: Range requests through the 302), and a revoked share
/// that does not play. The screenshot of the playing page is kept in `.data/artifacts/`.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct DemoBrowserTests {
    struct Page: Encodable {
        var url: String
        var seek = false
        var expect_failure = false
        var screenshot: String?
    }

    struct Request: Encodable {
        var pages: [Page]
        var timeout: Double
    }

    struct RangeRequest: Decodable {
        var url: String
        var range: String
        var status: Int?
    }

    struct Result: Decodable {
        var url: String
        var played: Bool
        var seeked: Bool
        var after_seek: Bool
        var ready_state: Int?
        var error: Int?
        var times: [Double]
        var range_requests: [RangeRequest]?
    }

    struct Results: Decodable { var results: [Result] }

    /// Twenty seconds at ~1 Mbit/s: long enough that a seek to the middle means reading from the middle.
    static func makeMP4() throws -> Data {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("usher-demo-\(UUID().uuidString).mp4").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try run(
            "ffmpeg",
            [
                "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=duration=20:size=640x360:rate=25",
                "-pix_fmt", "yuv420p", "-c:v", "libx264", "-b:v", "1M", "-movflags", "+faststart", "-y", path,
            ])
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    func json(_ reply: HTTPResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
    }

    @Test func aBrowserPlaysTheMirroredVideoThroughTheGatewayAndAShareLink() async throws {
        let mp4 = try Self.makeMP4()
        let fal = try await FalStandIn.start(mp4: mp4)
        defer { fal.stop() }
        let signer = try FalSigner.make()
        let jwksPath = FileManager.default.temporaryDirectory.appendingPathComponent("fal-jwks-\(UUID().uuidString).json").path
        try signer.jwks.write(toFile: jwksPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: jwksPath) }
        let edgePort = try freeLoopbackPort()
        let server = try await TestServer.start(
            [
                "USHER_LISTEN": "127.0.0.1:\(edgePort)", "USHER_PUBLIC_URL": "http://127.0.0.1:\(edgePort)", "USHER_DEMO": "1",
                "FAL_JWKS_FILE": jwksPath, "MIRROR_ALLOWED_HOSTS": "127.0.0.1:\(fal.port)", "MIRROR_ALLOW_INSECURE_LOCALHOST": "1",
            ], roles: "gateway,webhook,worker")

        // Generate → fal's webhook → mirrored.
        let id = uniqueID("demo")
        #expect(try await server.register(#"{"request_id":"\#(id)","owner":"demo-app","visibility":"private"}"#).status == 201)
        let body = FalSigner.okBody(requestID: id, url: "\(fal.base)/mp4/\(id).mp4", fileSize: mp4.count)
        let webhook = try await TestHTTP.request(
            server.appURL + "/webhooks/fal", method: "POST", headers: try signer.headers(requestID: id, body: body), body: body)
        #expect(webhook.status == 200)
        let admin = [("Authorization", "Bearer \(TestServer.adminToken)"), ("Content-Type", "application/json")]
        let mirrored = try await LocalStack.eventually(within: 30) {
            let row = try await TestHTTP.request("\(server.appURL)/v1/generations/\(id)", headers: admin)
            return try json(row)["status"] as? String == "COMPLETED"
        }
        try #require(mirrored, "the worker did not mirror the video")

        let share = try json(
            try await TestHTTP.request(
                server.appURL + "/v1/shares", method: "POST", headers: admin, body: Data(#"{"request_id":"\#(id)","ttl_seconds":600}"#.utf8)))
        let code = try #require(share["code"] as? String)
        let revokedShare = try json(
            try await TestHTTP.request(
                server.appURL + "/v1/shares", method: "POST", headers: admin, body: Data(#"{"request_id":"\#(id)","ttl_seconds":600}"#.utf8)))
        let revokedCode = try #require(revokedShare["code"] as? String)
        #expect(try await TestHTTP.request(server.appURL + "/v1/shares/\(revokedCode)", method: "DELETE", headers: admin).status == 204)

        let artifacts = LocalStack.repositoryRoot.appendingPathComponent(".data/artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts.appendingPathComponent("demo-playing.png").path
        try? FileManager.default.removeItem(atPath: screenshot)
        let token = try server.token(videoIDs: [id])
        let request = Request(
            pages: [
                Page(url: "\(server.appURL)/demo/\(id)?token=\(token)", seek: true, screenshot: screenshot),
                Page(url: "\(server.appURL)/demo/\(id)?share=\(code)", seek: true),
                Page(url: "\(server.appURL)/demo/\(id)?share=\(revokedCode)", expect_failure: true),
            ], timeout: 20)
        let results = try await runPythonPeerDetached("browser_play.py", input: request, as: Results.self).results
        try #require(results.count == 3)

        for result in results[0...1] {
            #expect(result.played, "\(result.url): the video did not play (readyState \(result.ready_state ?? -1), error \(result.error ?? 0))")
            #expect((result.ready_state ?? 0) >= 3)
            #expect(result.seeked, "\(result.url): the seek to the middle did not land")
            #expect(result.after_seek, "\(result.url): the video did not play on after the seek: \(result.times)")
            // The player's Range requests went through the 302 to SeaweedFS, which answered 206.
            let media = (result.range_requests ?? []).filter { $0.url.hasSuffix("/usher/videos/\(id).mp4") }
            #expect(media.contains { $0.status == 206 }, "\(result.url): \(result.range_requests.map { "\($0)" } ?? "none")")
        }
        let refused = results[2]
        #expect(!refused.played)
        #expect(refused.error != nil, "a revoked share must not play: readyState \(refused.ready_state ?? -1)")
        #expect(refused.ready_state == 0)
        #expect(FileManager.default.fileExists(atPath: screenshot), "the screenshot is kept as an artifact")
        try await server.stop()
    }

    @Test func theDemoPageExistsOnlyWhenTurnedOn() async throws {
        let server = try await TestServer.start()
        #expect(try await TestHTTP.request("\(server.appURL)/demo/some-id?token=abc").status == 404)
        try await server.stop()
        let demo = try await TestServer.start(["USHER_DEMO": "1", "USHER_PUBLIC_URL": "https://watch.example.com"])
        let page = try await TestHTTP.request("\(demo.appURL)/demo/some-id?token=a.b.c")
        #expect(page.status == 200)
        let html = String(decoding: page.body, as: UTF8.self)
        #expect(html.contains(#"src="https://watch.example.com/v/some-id?token=a.b.c""#))
        #expect(page.header("Referrer-Policy") == "no-referrer")
        #expect(try await TestHTTP.request("\(demo.appURL)/demo/some-id?token=%3Cscript%3E").status == 400)
        #expect(try await TestHTTP.request("\(demo.appURL)/demo/..").status == 404)
        try await demo.stop()
    }
}
