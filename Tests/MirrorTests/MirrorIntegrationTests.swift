import Foundation
import ServerTestSupport
import SigV4
import Testing
import UsherCrypto
import UsherServer
import UsherTestSupport

/// fal webhook → queue → streaming mirror into SeaweedFS → gateway, against the local stack and a local
/// stand-in for fal.media. Serialized: the tests share the queue and the Redis/Postgres of the stack.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
final class MirrorIntegrationTests: Sendable {
    let fal: FalStandIn
    let signer: FalSigner
    let jwksPath: String
    let mp4: Data

    init() async throws {
        mp4 = try Self.makeMP4()
        signer = try FalSigner.make()
        fal = try await FalStandIn.start(mp4: mp4, jwks: signer.jwks)
        jwksPath = FileManager.default.temporaryDirectory.appendingPathComponent("fal-jwks-\(UUID().uuidString).json").path
        try signer.jwks.write(toFile: jwksPath, atomically: true, encoding: .utf8)
    }

    deinit {
        fal.stop()
        try? FileManager.default.removeItem(atPath: jwksPath)
    }

    /// A two-second H.264 MP4 made by ffmpeg (the stack installs it).
    static func makeMP4() throws -> Data {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("usher-\(UUID().uuidString).mp4").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try run(
            "ffmpeg",
            [
                "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=25",
                "-pix_fmt", "yuv420p", "-c:v", "libx264", "-movflags", "+faststart", "-y", path,
            ])
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    func server(_ overrides: [String: String] = [:]) async throws -> TestServer {
        var settings = [
            "FAL_JWKS_FILE": jwksPath, "MIRROR_ALLOWED_HOSTS": "fal.media,*.fal.media,127.0.0.1:\(fal.port)",
            "MIRROR_ALLOW_INSECURE_LOCALHOST": "1", "MIRROR_LEASE_SECONDS": "5",
        ]
        for (name, value) in overrides { settings[name] = value }
        return try await TestServer.start(settings, roles: "gateway,webhook,worker")
    }

    func deliver(_ server: TestServer, requestID: String, body: Data, headers: [(String, String)]? = nil) async throws -> HTTPResult {
        try await TestHTTP.request(
            server.appURL + "/webhooks/fal", method: "POST", headers: try headers ?? signer.headers(requestID: requestID, body: body), body: body)
    }

    func generation(_ server: TestServer, _ id: String) async throws -> [String: Any]? {
        let reply = try await TestHTTP.request(
            "\(server.appURL)/v1/generations/\(id)", headers: [("Authorization", "Bearer \(TestServer.adminToken)")])
        guard reply.status == 200 else { return nil }
        return try JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
    }

    /// Polls until the generation leaves PENDING/MIRRORING (or the time runs out).
    func settled(_ server: TestServer, _ id: String, within seconds: Double = 20) async throws -> [String: Any]? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let row = try await generation(server, id), let status = row["status"] as? String, status == "COMPLETED" || status == "FAILED" {
                return row
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await generation(server, id)
    }

    func storedObject(_ server: TestServer, key: String) async throws -> HTTPResult {
        let presigner = try Presigner(configuration: try server.services.configuration.s3)
        return try await TestHTTP.request(try presigner.presignedGET(key: key, ttl: 60, now: Int64(Date().timeIntervalSince1970)).url)
    }

    @Test func webhookMirrorsTheVideoAndTheGatewayServesIt() async throws {
        let server = try await server()
        let id = uniqueID("fal")
        #expect(try await server.register(#"{"request_id":"\#(id)","owner":"app-1","visibility":"private"}"#).status == 201)
        let body = FalSigner.okBody(requestID: id, url: "\(fal.base)/mp4/\(id).mp4", fileSize: mp4.count)
        let started = Date()
        let reply = try await deliver(server, requestID: id, body: body)
        #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")
        #expect(Date().timeIntervalSince(started) < 0.5, "the webhook must answer in milliseconds")

        let row = try #require(try await settled(server, id))
        #expect(row["status"] as? String == "COMPLETED", "\(row)")
        #expect(row["object_key"] as? String == "videos/\(id).mp4")
        #expect(row["fal_url"] as? String == "\(fal.base)/mp4/\(id).mp4")
        #expect((row["cdn_url"] as? String)?.hasSuffix("/usher/videos/\(id).mp4") == true)
        #expect(row["mirrored_at"] is String)

        let stored = try await storedObject(server, key: "videos/\(id).mp4")
        #expect(stored.status == 200)
        #expect(SHA256.hash([UInt8](stored.body)) == SHA256.hash([UInt8](mp4)))
        #expect(stored.header("Content-Type") == "video/mp4")

        let redirect = try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(try server.token(videoIDs: [id]))")
        #expect(redirect.status == 302)
        let played = try await TestHTTP.request(try #require(redirect.header("Location")))
        #expect(played.body == mp4)
        try await server.stop()
    }

    @Test func largeFileGoesUpInPartsAndSurvivesACutDownload() async throws {
        let server = try await server()
        let id = uniqueID("big")
        let size = 20 * 1024 * 1024 + 12345  // three 8 MiB parts
        // The first download is cut half-way: the multipart upload is aborted and the job retried (2 s backoff).
        let body = FalSigner.okBody(requestID: id, url: "\(fal.base)/files/\(id)?size=\(size)&cut=1", fileSize: size)
        #expect(try await deliver(server, requestID: id, body: body).status == 200)
        let row = try #require(try await settled(server, id, within: 30))
        #expect(row["status"] as? String == "COMPLETED", "\(row)")
        #expect(row["attempts"] as? Int == 2)
        #expect(fal.requests("/files/\(id)") == 2)
        let stored = try await storedObject(server, key: "videos/\(id).mp4")
        #expect(stored.body.count == size)
        #expect(SHA256.hash([UInt8](stored.body)) == SHA256.hash(FalStandIn.bytes(name: id, count: size)))
        #expect(try await pendingMultipartUploads(server) == 0, "an aborted upload left parts behind")
        try await server.stop()
    }

    @Test func aVideoDeletedWhileItsMirrorRunsLeavesNothingInTheBucket() async throws {
        let server = try await server()
        let id = uniqueID("gone")
        #expect(try await server.register(#"{"request_id":"\#(id)","owner":"app-1","visibility":"private"}"#).status == 201)
        // About a second of download (eight 256 KiB chunks, 120 ms apart), then one PUT.
        let body = FalSigner.okBody(requestID: id, url: "\(fal.base)/files/\(id)?size=2000000&slow=120", fileSize: 2_000_000)
        #expect(try await deliver(server, requestID: id, body: body).status == 200)
        let deadline = Date().addingTimeInterval(10)
        while fal.requests("/files/\(id)") == 0, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(fal.requests("/files/\(id)") == 1, "the worker is downloading")

        let deleted = try await TestHTTP.request(
            "\(server.appURL)/v1/generations/\(id)", method: "DELETE", headers: [("Authorization", "Bearer \(TestServer.adminToken)")])
        #expect(deleted.status == 204)
        // The worker finishes its upload (about a second), finds its lease gone and the row deleted, and removes what
        // it stored. (Without that removal the object is found here: checked by disabling it.)
        try await Task.sleep(for: .seconds(3))
        #expect(try await server.s3("HEAD", key: "videos/\(id).mp4").status == 404, "nothing is left in the bucket")
        #expect(try await generation(server, id)?["status"] as? String == "DELETED")
        try await server.stop()
    }

    func pendingMultipartUploads(_ server: TestServer) async throws -> Int {
        let signer = RequestSigner(configuration: try server.services.configuration.s3)
        let signed = signer.sign(
            S3Request(method: "GET", key: nil, query: [("uploads", "")]), payloadHash: RequestSigner.emptyPayload,
            now: Int64(Date().timeIntervalSince1970))
        let reply = try await TestHTTP.request(signed.url, headers: signed.headers.filter { $0.name != "host" })
        #expect(reply.status == 200)
        return String(decoding: reply.body, as: UTF8.self).components(separatedBy: "<Upload>").count - 1
    }

    @Test func twentyConcurrentDuplicatesMirrorOnce() async throws {
        let server = try await server()
        let id = uniqueID("dup")
        let body = FalSigner.okBody(requestID: id, url: "\(fal.base)/files/\(id)?size=300000")
        let headers = try signer.headers(requestID: id, body: body)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 { group.addTask { try await self.deliver(server, requestID: id, body: body, headers: headers).status } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
        let row = try #require(try await settled(server, id))
        #expect(row["status"] as? String == "COMPLETED")
        // A late duplicate changes nothing either.
        #expect(try await deliver(server, requestID: id, body: body).status == 200)
        try await Task.sleep(for: .milliseconds(1500))
        #expect(fal.requests("/files/\(id)") == 1, "the source was downloaded \(fal.requests("/files/\(id)")) times")
        #expect(try await generation(server, id)?["attempts"] as? Int == 1)
        try await server.stop()
    }

    @Test func forgedOrStaleWebhooksAreRefusedAndChangeNothing() async throws {
        let server = try await server()
        let id = uniqueID("forged")
        let body = FalSigner.okBody(requestID: id, url: "\(fal.base)/files/\(id)")
        let stranger = try Ed25519PrivateKey()
        var tampered = body
        tampered.append(contentsOf: Array(" ".utf8))
        let cases: [(String, Data, [(String, String)])] = [
            ("tampered body", tampered, try signer.headers(requestID: id, body: body)),
            ("unknown key", body, try signer.headers(requestID: id, body: body, signer: stranger)),
            ("stale timestamp", body, try signer.headers(requestID: id, body: body, timestamp: Int64(Date().timeIntervalSince1970) - 301)),
            // 310 s ahead: the cases are signed before they are sent, so a timestamp one second past the limit
            // could fall back inside it while the earlier cases are delivered.
            ("future timestamp", body, try signer.headers(requestID: id, body: body, timestamp: Int64(Date().timeIntervalSince1970) + 310)),
            ("no signature", body, try signer.headers(requestID: id, body: body).filter { $0.0 != "X-Fal-Webhook-Signature" }),
            (
                "signed for another user id", body,
                try signer.headers(requestID: id, body: body).map { $0.0 == "X-Fal-Webhook-User-Id" ? ($0.0, "intruder") : $0 }
            ),
        ]
        for (name, payload, headers) in cases {
            let reply = try await deliver(server, requestID: id, body: payload, headers: headers)
            #expect(reply.status == 401, "\(name)")
            #expect(reply.header("Content-Type") == "application/problem+json", "\(name)")
        }
        // A correctly signed webhook whose header id differs from the body's: 400.
        let mismatched = FalSigner.okBody(requestID: "another-id", url: "\(fal.base)/files/x")
        #expect(
            try await deliver(server, requestID: id, body: mismatched, headers: try signer.headers(requestID: id, body: mismatched)).status == 400)
        let notJSON = Data("{not json".utf8)
        #expect(try await deliver(server, requestID: id, body: notJSON).status == 400)
        let huge = Data(repeating: UInt8(ascii: " "), count: (1 << 20) + 1)
        #expect(try await deliver(server, requestID: id, body: huge).status == 413)
        #expect(try await generation(server, id) == nil, "a refused webhook created a row")
        #expect(fal.requests("/files/\(id)") == 0)
        try await server.stop()
    }

    @Test func errorWebhookAndMissingVideoFailTheGeneration() async throws {
        let server = try await server()
        let failed = uniqueID("err")
        let errorBody = try JSONSerialization.data(withJSONObject: [
            "request_id": failed, "status": "ERROR", "error": "Invalid prompt: nsfw", "payload": NSNull(),
        ])
        #expect(try await deliver(server, requestID: failed, body: errorBody).status == 200)
        let row = try #require(try await generation(server, failed))
        #expect(row["status"] as? String == "FAILED")
        #expect(row["last_error"] as? String == "Invalid prompt: nsfw")
        #expect(row["owner"] is NSNull)

        let novideo = uniqueID("novideo")
        let okWithoutVideo = try JSONSerialization.data(withJSONObject: ["request_id": novideo, "status": "OK", "payload": ["images": []]])
        #expect(try await deliver(server, requestID: novideo, body: okWithoutVideo).status == 200)
        #expect(try await generation(server, novideo)?["status"] as? String == "FAILED")

        let gone = try await TestHTTP.request("\(server.edgeURL)/v/\(failed)?token=\(try server.token(videoIDs: [failed]))")
        #expect(gone.status == 410)

        // The app registers the request after fal's webhook created the row: it takes the owner, once.
        #expect(try await server.register(#"{"request_id":"\#(failed)","owner":"app-1","visibility":"private"}"#).status == 201)
        #expect(try await generation(server, failed)?["owner"] as? String == "app-1")
        #expect(try await server.register(#"{"request_id":"\#(failed)","owner":"app-2","visibility":"private"}"#).status == 409)
        try await server.stop()
    }

    @Test(arguments: [
        ("http://169.254.169.254/latest/meta-data/", "link-local metadata address"),
        ("file:///etc/passwd", "file URL"),
        ("ftp://v3.fal.media/x.mp4", "not https"),
        ("https://evil.example.com/x.mp4", "host not on the list"),
    ])
    func disallowedSourcesFailWithoutARequest(url: String, why: String) async throws {
        let server = try await server()
        let id = uniqueID("deny")
        #expect(try await deliver(server, requestID: id, body: FalSigner.okBody(requestID: id, url: url)).status == 200)
        let row = try #require(try await settled(server, id))
        #expect(row["status"] as? String == "FAILED", "\(why)")
        #expect((row["last_error"] as? String)?.contains("source_not_allowed") == true, "\(why): \(row)")
        #expect(row["attempts"] as? Int == 1, "permanent failures do not retry")
        try await server.stop()
    }

    @Test func loopbackRedirectsAndOversizedSourcesAreRefused() async throws {
        // Production mode: 127.0.0.1 is on the allow-list, but loopback is still refused, and nothing is fetched.
        let production = try await server(["MIRROR_ALLOW_INSECURE_LOCALHOST": "0"])
        let local = uniqueID("loop")
        #expect(
            try await deliver(production, requestID: local, body: FalSigner.okBody(requestID: local, url: "\(fal.base)/files/\(local)")).status == 200
        )
        #expect(try await settled(production, local)?["status"] as? String == "FAILED")
        #expect(fal.requests("/files/\(local)") == 0)
        try await production.stop()

        let server = try await server(["MIRROR_MAX_BYTES": "100000"])
        let redirected = uniqueID("redir")
        let target = "https://evil.example.com/\(redirected).mp4"
        let body = FalSigner.okBody(
            requestID: redirected, url: "\(fal.base)/redirect?to=\(target.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
        #expect(try await deliver(server, requestID: redirected, body: body).status == 200)
        let redirectRow = try #require(try await settled(server, redirected))
        #expect(redirectRow["status"] as? String == "FAILED")
        #expect((redirectRow["last_error"] as? String)?.contains("evil.example.com") == true)

        let big = uniqueID("big")
        #expect(
            try await deliver(server, requestID: big, body: FalSigner.okBody(requestID: big, url: "\(fal.base)/files/\(big)?size=200000")).status
                == 200)
        let bigRow = try #require(try await settled(server, big))
        #expect(bigRow["status"] as? String == "FAILED")
        #expect((bigRow["last_error"] as? String)?.contains("too_large") == true)

        let refused = uniqueID("404")
        #expect(
            try await deliver(server, requestID: refused, body: FalSigner.okBody(requestID: refused, url: "\(fal.base)/status/404")).status == 200)
        let refusedRow = try #require(try await settled(server, refused))
        #expect(refusedRow["status"] as? String == "FAILED")
        #expect(refusedRow["attempts"] as? Int == 1)
        try await server.stop()
    }

    @Test func aKilledWorkersJobIsFinishedByAnotherAfterTheLease() async throws {
        // Intake only in this process; the first worker is a separate `usher serve --roles worker`, killed mid-download.
        let intake = try await server(["MIRROR_CONCURRENCY": "1"])
        let id = uniqueID("kill")
        let size = 4 * 1024 * 1024
        let environment = LocalStack.usherEnvironment([
            "USHER_APP_LISTEN": "127.0.0.1:0", "FAL_JWKS_FILE": jwksPath, "MIRROR_ALLOWED_HOSTS": "127.0.0.1:\(fal.port)",
            "MIRROR_ALLOW_INSECURE_LOCALHOST": "1", "MIRROR_LEASE_SECONDS": "4",
        ])
        // Stop the in-process worker from taking the job first: it only runs after the killed one is gone.
        try await intake.stop()
        let intakeOnly = try await TestServer.start(
            [
                "FAL_JWKS_FILE": jwksPath, "MIRROR_ALLOWED_HOSTS": "127.0.0.1:\(fal.port)", "MIRROR_ALLOW_INSECURE_LOCALHOST": "1",
            ], roles: "gateway,webhook")
        let worker = try SpawnedProcess(UsherBinary.url.path, ["serve", "--roles", "worker"], environment: environment)
        let body = FalSigner.okBody(requestID: id, url: "\(fal.base)/files/\(id)?size=\(size)&slow=400", fileSize: size)
        #expect(try await deliver(intakeOnly, requestID: id, body: body).status == 200)
        // Wait until the spawned worker is downloading, then kill it without warning.
        for _ in 0..<100 where fal.requests("/files/\(id)") == 0 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(fal.requests("/files/\(id)") == 1)
        worker.kill()
        try await intakeOnly.stop()

        let rescuer = try await server(["MIRROR_LEASE_SECONDS": "4"])
        let row = try #require(try await settled(rescuer, id, within: 40))
        #expect(row["status"] as? String == "COMPLETED", "\(row)")
        #expect(fal.requests("/files/\(id)") == 2)
        let stored = try await storedObject(rescuer, key: "videos/\(id).mp4")
        #expect(stored.body.count == size)
        try await rescuer.stop()
    }

    @Test func databaseDownAnswers503SoFalRetries() async throws {
        let server = try await server()
        let id = uniqueID("dbdown")
        let body = FalSigner.okBody(requestID: id, url: "\(fal.base)/files/\(id)?size=1000")
        let refused = try await LocalStack.whileStopped("postgres") { try await deliver(server, requestID: id, body: body) }
        #expect(refused.status == 503)
        #expect(refused.header("Retry-After") != nil)
        // fal's retry, once the database is back: nothing was lost.
        #expect(try await LocalStack.eventually { try await self.deliver(server, requestID: id, body: body).status == 200 })
        #expect(try await settled(server, id)?["status"] as? String == "COMPLETED")
        try await server.stop()
    }

    @Test func aStoreThatRefusesConnectionsCostsAnAttemptNotTheVideo() async throws {
        // A worker whose S3 endpoint refuses every connection (port 1 on loopback: nothing listens there).
        let id = uniqueID("s3down")
        let size = 300_000
        let broken = try await server(["S3_ENDPOINT": "http://127.0.0.1:1"])
        let body = FalSigner.okBody(requestID: id, url: "\(fal.base)/files/\(id)?size=\(size)", fileSize: size)
        let started = Date()
        #expect(try await deliver(broken, requestID: id, body: body).status == 200)
        // The attempt fails (within the client's 10 s connect timeout, not the upload's deadline) and says why;
        // the generation is not FAILED: storage trouble is worth a retry.
        var row: [String: Any]?
        for _ in 0..<600 {
            row = try await generation(broken, id)
            if row?["last_error"] is String { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let failedAfter = Date().timeIntervalSince(started)
        let error = try #require(row?["last_error"] as? String, "no attempt recorded an error in 60 s: \(String(describing: row))")
        #expect(error.contains("S3") || error.contains("storage"), "\(error)")
        #expect(error.lowercased().contains("refused") || error.lowercased().contains("connect"), "\(error)")
        #expect(failedAfter < 30, "the attempt took \(failedAfter) s to fail (the connect timeout is 10 s)")
        #expect(row?["status"] as? String != "FAILED" && row?["status"] as? String != "COMPLETED", "\(String(describing: row))")
        try await broken.stop()

        // The store is reachable again (a worker with the right endpoint): the retry completes the same job.
        let healthy = try await server()
        let done = try #require(try await settled(healthy, id, within: 30))
        #expect(done["status"] as? String == "COMPLETED", "\(done)")
        #expect((done["attempts"] as? Int ?? 0) >= 2, "\(done)")
        #expect(try await storedObject(healthy, key: "videos/\(id).mp4").body.count == size)
        try await healthy.stop()
    }

    @Test func usherMirrorAndBackfillCommands() async throws {
        let server = try await server()
        let id = uniqueID("cli")
        // A generation that fal reported but whose mirror failed (the source was briefly refusing).
        #expect(try await server.register(#"{"request_id":"\#(id)","owner":"o"}"#).status == 201)
        try await server.setRow(id, "status = 'FAILED', fal_url = $2, last_error = 'earlier failure'", ["\(fal.base)/mp4/\(id).mp4"])
        try await server.stop()

        let environment = LocalStack.usherEnvironment([
            "MIRROR_ALLOWED_HOSTS": "127.0.0.1:\(fal.port)", "MIRROR_ALLOW_INSECURE_LOCALHOST": "1",
        ])
        let mirrored = try UsherBinary.run(["mirror", id], environment: environment)
        #expect(mirrored.status == 0, "\(mirrored.stderr)")
        #expect(mirrored.stdout.contains("\(id): COMPLETED"), "\(mirrored.stdout)")
        let unknown = try UsherBinary.run(["mirror", uniqueID("nope")], environment: environment)
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("with a fal_url"))

        // backfill queues FAILED rows that have a fal_url; a worker then completes them.
        let second = uniqueID("backfill")
        let checker = try await self.server()
        #expect(try await checker.register(#"{"request_id":"\#(second)","owner":"o"}"#).status == 201)
        try await checker.setRow(second, "status = 'FAILED', fal_url = $2", ["\(fal.base)/mp4/\(second).mp4"])
        let backfill = try UsherBinary.run(["backfill"], environment: environment)
        #expect(backfill.status == 0, "\(backfill.stderr)")
        #expect(backfill.stdout.hasPrefix("queued "))
        #expect(try await settled(checker, second)?["status"] as? String == "COMPLETED")
        try await checker.stop()
    }
}
