import Delivery
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Postgres
import Redis
import ServerTestSupport
import SigV4
import Testing
import UsherServer
import UsherTestSupport

@_spi(Fuzzing) @testable import Gateway

/// Smaller guarantees against hostile or unlucky conditions: fail closed without the revocation list, and the rest
/// of this suite.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct HardeningTests {
    static let admin = [("Authorization", "Bearer \(TestServer.adminToken)"), ("Content-Type", "application/json")]

    func video(_ server: TestServer, visibility: String) async throws -> String {
        try await server.registerVideo(uniqueID("hard"), visibility: visibility)
    }

    /// Until the revocation list has loaded once, an instance cannot tell a revoked token or a taken-down video
    /// from a good one: `/readyz` says 503 and the edge answers 503 instead of any redirect.
    @Test func withoutTheRevocationListNothingIsHandedOut() async throws {
        let server = try await TestServer.start()
        let privateID = try await video(server, visibility: "private")
        let publicID = try await video(server, visibility: "public")
        let token = try server.token(videoIDs: [privateID])
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(privateID)?token=\(token)").status == 302, "the server's own list loaded")

        // A second service whose revocation list lives in a database that cannot be reached (Postgres down at start).
        let logger = Logger(label: "test")
        let unreachable = PQClient(
            configuration: PostgresConfiguration(url: "postgres://usher@127.0.0.1:1/usher", connectTimeoutSeconds: 1), logger: logger)
        let revocations = Revocations(cache: RedisCache(client: server.services.redis), store: RevocationStore(client: unreachable), logger: logger)
        try? await revocations.reload()
        #expect(!revocations.hasLoaded)
        let readiness = Readiness(redis: server.services.redis, postgres: server.services.postgres, revocations: revocations)
        let status = await readiness.check()
        #expect(!status.ready && status.text.contains("revocations: not loaded"))
        let configuration = server.services.configuration
        let service = EdgeService(
            configuration: configuration.gateway, presigner: try Presigner(configuration: try configuration.s3), keys: server.services.keys,
            lookup: server.services.lookup, shares: server.services.shares, revocations: revocations,
            rateLimiter: RateLimiter(configuration: .init(rate: 0), redis: nil), readiness: readiness, group: server.services.group, logger: logger)
        let loop = server.services.group.next()
        func answer(_ uri: String) async throws -> UInt {
            try await loop.flatSubmit { service.reply(to: EdgeRequestHead(uri: uri), peer: nil, on: loop) }.get().status.code
        }
        #expect(try await answer("/v/\(privateID)?token=\(token)") == 503)
        #expect(try await answer("/v/\(publicID)") == 503)
        #expect(try await answer("/v/\(privateID)") == 401, "decisions that need no list are still made")
        await unreachable.shutdown()
        try await server.stop()
    }

    /// With a signing window, a URL lives up to TTL + window; it must still end with temporary credentials.
    @Test func aWindowedURLNeverOutlivesTemporaryCredentials() async throws {
        let now = Int64(Date().timeIntervalSince1970)
        let expiresAt = now + 1200
        let server = try await TestServer.start([
            "PRESIGN_WINDOW": "3600", "S3_SESSION_TOKEN": "session-token-for-test", "S3_CREDENTIALS_EXPIRE_AT": String(expiresAt),
        ])
        let id = try await video(server, visibility: "private")
        // Twice: the second answer must not be a windowed URL kept from the first (WindowedURLs).
        for _ in 0..<2 {
            let redirect = try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(try server.token(videoIDs: [id]))")
            #expect(redirect.status == 302)
            let location = try #require(redirect.header("Location"))
            let items = try #require(URLComponents(string: location)?.queryItems)
            let date = try #require(items.first { $0.name == "X-Amz-Date" }?.value)
            let expires = try #require(items.first { $0.name == "X-Amz-Expires" }?.value.flatMap { Int64($0) })
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
            let signedAt = Int64(try #require(formatter.date(from: date)).timeIntervalSince1970)
            #expect(signedAt + expires <= expiresAt, "URL valid until \(signedAt + expires), credentials until \(expiresAt)")
        }
        try await server.stop()
    }

    /// A worker that lost its lease (another took and completed the job) must not write its failure onto the row.
    @Test func aWorkerThatLostItsLeaseWritesNothing() async throws {
        let server = try await TestServer.start()
        let jobs = MirrorJobStore(client: server.services.postgres)
        let id = uniqueID("lease")
        _ = try await jobs.acceptVideo(requestID: id, sourceURL: "https://v3.fal.media/x.mp4", contentType: "video/mp4", fileSize: nil)
        let slow = try #require(try await jobs.claim(requestID: id, worker: "slow", leaseSeconds: 1))
        try await Task.sleep(for: .milliseconds(1300))
        let fast = try #require(try await jobs.claim(requestID: id, worker: "fast", leaseSeconds: 60), "the lease ran out")
        _ = try await jobs.complete(
            fast, worker: "fast", objectKey: "videos/\(id).mp4", cdnURL: "https://cdn/x", contentType: "video/mp4", sizeBytes: 10)
        try await jobs.retryLater(slow, worker: "slow", delay: 2, error: "late failure")
        let row = try await server.services.postgres.query(
            "SELECT status, last_error, attempts::text FROM generations WHERE request_id = $1", [id])
        #expect(row.rows.first == [.some("COMPLETED"), nil, .some("2")], "\(row.rows)")
        try await server.stop()
    }

    /// `DELETE /v1/revocations/{kind}/{value}` decodes the value, which may hold `@` (sent as %40) or `/`.
    @Test(arguments: [("user@x.example", "user%40x.example"), ("a/b c", "a%2Fb%20c"), ("team/viewer", "team/viewer")])
    func revocationsAreLiftedByTheirPercentEncodedValue(value: String, path: String) async throws {
        let server = try await TestServer.start()
        let body = try JSONSerialization.data(withJSONObject: ["sub": value])
        #expect(try await TestHTTP.request(server.appURL + "/v1/revocations", method: "POST", headers: Self.admin, body: body).status == 201)
        let lifted = try await TestHTTP.request(server.appURL + "/v1/revocations/sub/\(path)", method: "DELETE", headers: Self.admin)
        #expect(lifted.status == 204)
        let left = try await server.services.postgres.query("SELECT count(*)::text FROM revocations WHERE kind = 'sub' AND value = $1", [value])
        #expect(left.rows.first?.first == .some("0"), "\(value) is still revoked")
        // Sent raw: an HTTP client would encode the stray % itself.
        let bad = try RawConnection(port: Int(server.appURL.split(separator: ":").last!)!)
        bad.send("DELETE /v1/revocations/sub/%zz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(TestServer.adminToken)\r\n\r\n")
        #expect(bad.readResponse(within: 5)?.hasPrefix("HTTP/1.1 400") == true)
        try await server.stop()
    }

    /// Writes go through `Generations`, which updates the caches itself: an id the gateway has cached as unknown
    /// (Redis holds a negative entry for 30 s) plays as soon as it is registered, with no refresh by the caller.
    @Test func aWriteReplacesWhatTheCachesHeldForTheId() async throws {
        let server = try await TestServer.start()
        let id = uniqueID("cached-unknown")
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)").status == 404)
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)").status == 404, "now cached as unknown")
        _ = try await server.services.clients.generations.register(
            requestID: id, owner: "o", visibility: .public, objectKey: "videos/\(id).mp4", cdnURL: nil)
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)").status == 302)
        try await server.stop()
    }

    /// The origin fallback redirects only to `fal_url`s on `MIRROR_ALLOWED_HOSTS`: a webhook's URL cannot turn the
    /// edge into an open redirect.
    @Test func originFallbackRedirectsOnlyToAllowedHosts() async throws {
        let server = try await TestServer.start(["USHER_ORIGIN_FALLBACK": "1", "MIRROR_ALLOWED_HOSTS": "fal.media,*.fal.media"])
        for (url, status) in [
            ("https://v3.fal.media/files/x.mp4", 302), ("https://evil.example/x.mp4", 503), ("https://fal.media.evil.example/x", 503),
            ("https://v3.fal.media@evil.example/x", 503), ("http://v3.fal.media/x", 503),
        ] {
            let id = uniqueID()
            #expect(try await server.register(#"{"request_id":"\#(id)","owner":"o"}"#).status == 201)
            try await server.setRow(id, "status = 'MIRRORING', fal_url = $2", [url])
            let reply = try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(try server.token(videoIDs: [id]))")
            #expect(reply.status == status, "\(url)")
        }
        try await server.stop()
    }
}
