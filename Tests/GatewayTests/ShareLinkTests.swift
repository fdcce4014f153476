import Foundation
import Postgres
import ServerTestSupport
import Testing
import UsherServer
import UsherTestSupport

/// `/s/{code}`, `POST /v1/shares`, `DELETE /v1/shares/{code}` and `usher share` against the real stack.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct ShareLinkTests {
    static let video = Data((0..<30_000).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ 3) })
    static let admin = [("Authorization", "Bearer \(TestServer.adminToken)"), ("Content-Type", "application/json")]

    func completedVideo(_ server: TestServer, visibility: String = "private") async throws -> String {
        try await server.registerVideo(uniqueID("share"), owner: "app-s", visibility: visibility, upload: Self.video)
    }

    func createShare(_ server: TestServer, _ body: String) async throws -> HTTPResult {
        try await TestHTTP.request(server.appURL + "/v1/shares", method: "POST", headers: Self.admin, body: Data(body.utf8))
    }

    func share(_ server: TestServer, id: String, ttl: Int = 3600, maxUses: Int? = nil) async throws -> (code: String, url: String) {
        let reply = try await createShare(server, #"{"request_id":"\#(id)","ttl_seconds":\#(ttl)\#(maxUses.map { ",\"max_uses\":\($0)" } ?? "")}"#)
        #expect(reply.status == 201, "\(String(decoding: reply.body, as: UTF8.self))")
        let json = try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
        return (try #require(json["code"] as? String), try #require(json["url"] as? String))
    }

    func revoke(_ server: TestServer, _ code: String) async throws -> Int {
        try await TestHTTP.request(server.appURL + "/v1/shares/\(code)", method: "DELETE", headers: Self.admin).status
    }

    static func expires(_ location: String) -> Int? {
        URLComponents(string: location)?.queryItems?.first { $0.name == "X-Amz-Expires" }?.value.flatMap { Int($0) }
    }

    @Test func aShareLinkRedirectsToAFreshPresignedURLThatLivesNoLongerThanTheShare() async throws {
        let server = try await TestServer.start(["USHER_PUBLIC_URL": "https://watch.example.com/"])
        let id = try await completedVideo(server)

        let reply = try await createShare(server, #"{"request_id":"\#(id)","ttl_seconds":120}"#)
        #expect(reply.status == 201)
        let json = try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
        let code = try #require(json["code"] as? String)
        #expect(code.count == 24, "144 bits as base64url")
        #expect(code.first != "-", "a code never looks like a command-line option")
        #expect(code.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(json["url"] as? String == "https://watch.example.com/s/\(code)")
        #expect((json["expires_at"] as? String)?.hasSuffix("Z") == true)
        #expect(json["max_uses"] is NSNull)

        let redirect = try await TestHTTP.request("\(server.edgeURL)/s/\(code)")
        #expect(redirect.status == 302)
        #expect(redirect.header("Cache-Control") == "no-store")
        #expect(redirect.header("Referrer-Policy") == "no-referrer")
        let location = try #require(redirect.header("Location"))
        let expires = try #require(Self.expires(location))
        #expect((115...120).contains(expires), "X-Amz-Expires \(expires) must be the share's remaining life, not PRESIGN_TTL")
        let object = try await TestHTTP.request(location)
        #expect(object.status == 200)
        #expect(object.body == Self.video)
        let range = try await TestHTTP.request(location, headers: [("Range", "bytes=100-199")])
        #expect(range.status == 206)
        #expect(range.body == Self.video[100..<200])

        // A long share hands out URLs of PRESIGN_TTL; each visit signs anew.
        let long = try await share(server, id: id, ttl: 86_400)
        let first = try await TestHTTP.request("\(server.edgeURL)/s/\(long.code)")
        #expect(first.header("Location").flatMap(Self.expires) == 900)
        let head = try await TestHTTP.request("\(server.edgeURL)/s/\(long.code)", method: "HEAD")
        #expect(head.status == 302)
        #expect(head.header("Cache-Control") == "no-store")

        // Download applies to shares too.
        let download = try await TestHTTP.request("\(server.edgeURL)/s/\(long.code)?download=1&filename=clip.mp4")
        #expect(download.header("Location")?.contains("response-content-disposition=attachment") == true)
        try await server.stop()
    }

    /// PRESIGN_WINDOW buckets `/v`'s signing time (URLs valid TTL + window); a share's URL is signed at now and still
    /// ends with the share.
    @Test func aShareURLEndsWithTheShareEvenWithASigningWindow() async throws {
        let server = try await TestServer.start(["PRESIGN_WINDOW": "3600"])
        let id = try await completedVideo(server)
        // A `/v` first: the video's windowed URL is then kept by the edge (WindowedURLs), which a share must not use.
        let token = try server.token(videoIDs: [id])
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302)
        let short = try await share(server, id: id, ttl: 120)
        let location = try #require(try await TestHTTP.request("\(server.edgeURL)/s/\(short.code)").header("Location"))
        let expires = try #require(Self.expires(location))
        #expect((115...120).contains(expires), "X-Amz-Expires \(expires)")
        let signed = try #require(URLComponents(string: location)?.queryItems?.first { $0.name == "X-Amz-Date" }?.value)
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let signedAt = try #require(formatter.date(from: signed))
        #expect(abs(signedAt.timeIntervalSinceNow) < 5, "signed at now, not at the window's start: \(signed)")
        #expect(try await TestHTTP.request(location).status == 200)

        let viewer = try #require(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").header("Location"))
        #expect(Self.expires(viewer) == 900 + 3600, "/v keeps the window: TTL + PRESIGN_WINDOW")
        try await server.stop()
    }

    @Test func unknownMalformedExpiredAndRevokedShares() async throws {
        let server = try await TestServer.start()
        let id = try await completedVideo(server)

        let unknown = try await TestHTTP.request("\(server.edgeURL)/s/AAAAAAAAAAAAAAAAAAAAAA")
        #expect(unknown.status == 404)
        #expect(unknown.header("Content-Type") == "application/problem+json")
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/short").status == 404)
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(String(repeating: "a", count: 22))%2F").status == 404)
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(String(repeating: "a", count: 22))", method: "POST").status == 405)

        // A share's expiry is a whole second (`expires_at` read as Unix seconds, as S3 reads `X-Amz-Date`), so it lives
        // between ttl - 1 and ttl seconds: a 1 s share made late in a second can be over before the first visit. With
        // 2 s it is open for at least one more second, and over within 2 s of being made.
        let expiring = try await share(server, id: id, ttl: 2)
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(expiring.code)").status == 302)
        try await Task.sleep(for: .milliseconds(2100))
        let expired = try await TestHTTP.request("\(server.edgeURL)/s/\(expiring.code)")
        #expect(expired.status == 410)
        #expect(String(decoding: expired.body, as: UTF8.self).contains(#""status":410"#))

        let revoked = try await share(server, id: id)
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(revoked.code)").status == 302)
        #expect(try await revoke(server, revoked.code) == 204)
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(revoked.code)").status == 410)
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(revoked.code)", method: "HEAD").status == 410)
        #expect(try await revoke(server, revoked.code) == 204, "revoking again is harmless")
        #expect(try await revoke(server, "BBBBBBBBBBBBBBBBBBBBBB") == 404)
        #expect(try await revoke(server, "not-a-code") == 404)

        // The generation still plays through /v: revoking a share is not a takedown.
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(try server.token(videoIDs: [id]))").status == 302)
        try await server.stop()
    }

    @Test func theAdminAPIRefusesBadShares() async throws {
        let server = try await TestServer.start()
        let id = try await completedVideo(server)
        for (body, status) in [
            (#"{"request_id":"\#(id)","ttl_seconds":0}"#, 400),
            (#"{"request_id":"\#(id)","ttl_seconds":31536001}"#, 400),
            (#"{"request_id":"\#(id)","ttl_seconds":"60"}"#, 400),
            (#"{"request_id":"\#(id)","ttl_seconds":1.5}"#, 400),
            (#"{"request_id":"\#(id)","ttl_seconds":60,"max_uses":0}"#, 400),
            (#"{"request_id":"\#(id)"}"#, 400),
            (#"{"request_id":"../x","ttl_seconds":60}"#, 400),
            ("not json", 400),
            (#"{"request_id":"\#(uniqueID("nobody"))","ttl_seconds":60}"#, 404),
        ] {
            let reply = try await createShare(server, body)
            #expect(reply.status == status, "\(body) → \(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
            #expect(reply.header("Content-Type") == "application/problem+json")
        }
        let unauthorized = try await TestHTTP.request(
            server.appURL + "/v1/shares", method: "POST", headers: [("Authorization", "Bearer wrong")],
            body: Data(#"{"request_id":"\#(id)","ttl_seconds":60}"#.utf8))
        #expect(unauthorized.status == 401)
        try await server.stop()
    }

    /// A HEAD of a `max_uses` share hands out a working URL, so it takes a use like a GET (CONTRACT § /s).
    @Test func maxUsesIsCountedAtomicallyAndHeadTakesAUse() async throws {
        let server = try await TestServer.start()
        let id = try await completedVideo(server)
        let limited = try await share(server, id: id, maxUses: 10)
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(limited.code)", method: "HEAD").status == 302)

        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<50 {
                group.addTask { try await TestHTTP.request("\(server.edgeURL)/s/\(limited.code)").status }
            }
            var all: [Int] = []
            for try await status in group { all.append(status) }
            return all
        }
        #expect(statuses.filter { $0 == 302 }.count == 9, "\(statuses)")
        #expect(statuses.filter { $0 == 410 }.count == 41, "\(statuses)")
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(limited.code)", method: "HEAD").status == 410)
        let uses = try await server.services.postgres.query("SELECT uses FROM shares WHERE code = $1", [limited.code])
        #expect(uses.rows.first?.first == .some("10"))
        try await server.stop()
    }

    @Test func aShareOfAVideoNotYetMirroredAnswers503WithoutUsingAUse() async throws {
        let server = try await TestServer.start()
        let id = uniqueID("share-pending")
        #expect(try await server.register(#"{"request_id":"\#(id)","owner":"app-s","visibility":"private"}"#).status == 201)
        let once = try await share(server, id: id, maxUses: 1)
        let pending = try await TestHTTP.request("\(server.edgeURL)/s/\(once.code)")
        #expect(pending.status == 503)
        #expect(pending.header("Retry-After") != nil)

        let key = "videos/\(id).mp4"
        try await server.upload(key: key, bytes: Self.video)
        try await server.setRow(id, "status = 'COMPLETED', object_key = $2, mirrored_at = now()", [key])
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(once.code)").status == 302)
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(once.code)").status == 410)
        try await server.stop()
    }

    @Test func aPublicVideosShareGoesToThePublicURLUncached() async throws {
        let server = try await TestServer.start(["PUBLIC_BASE_URL": "https://cdn.example.com"])
        let id = try await completedVideo(server, visibility: "public")
        let link = try await share(server, id: id)
        let redirect = try await TestHTTP.request("\(server.edgeURL)/s/\(link.code)")
        #expect(redirect.status == 302)
        #expect(redirect.header("Location") == "https://cdn.example.com/videos/\(id).mp4")
        #expect(redirect.header("Cache-Control") == "no-store")
        try await server.stop()
    }

    @Test func aRevocationStopsTheLinkOnEveryInstanceWithinOneSecond() async throws {
        let first = try await TestServer.start()
        let second = try await TestServer.start()
        let id = try await completedVideo(first)
        let link = try await share(first, id: id)
        // Both instances have served it (and Redis holds it) before the revocation.
        for server in [first, second] {
            #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(link.code)").status == 302)
        }
        let revokedAt = Date()
        #expect(try await revoke(first, link.code) == 204)
        var stoppedEverywhere = false
        while Date().timeIntervalSince(revokedAt) < 1 {
            let statuses = [
                try await TestHTTP.request("\(first.edgeURL)/s/\(link.code)").status,
                try await TestHTTP.request("\(second.edgeURL)/s/\(link.code)").status,
            ]
            if statuses == [410, 410] {
                stoppedEverywhere = true
                break
            }
        }
        #expect(stoppedEverywhere, "a revoked share must answer 410 on every instance within 1 s")
        try await first.stop()
        try await second.stop()
    }

    @Test func redisDownSharesAreReadFromPostgres() async throws {
        let server = try await TestServer.start()
        let id = try await completedVideo(server)
        let link = try await share(server, id: id)
        let status = try await LocalStack.whileStopped("redis") {
            try await TestHTTP.request("\(server.edgeURL)/s/\(link.code)").status
        }
        #expect(status == 302)
        try await server.stop()
    }

    /// README's claim: with Redis down the revocation is committed but the DELETE answers 503; repeated once Redis is
    /// back it answers 204 and the link is gone.
    @Test func aRevocationWhileRedisIsDownAnswers503AndIsSafeToRepeat() async throws {
        let server = try await TestServer.start()
        let id = try await completedVideo(server)
        let link = try await share(server, id: id)
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(link.code)").status == 302)
        let during = try await LocalStack.whileStopped("redis") { try await revoke(server, link.code) }
        #expect(during == 503)
        let revokedAt = try await server.services.postgres.query("SELECT revoked_at IS NOT NULL FROM shares WHERE code = $1", [link.code])
        #expect(revokedAt.rows.first?.first == .some("t"), "the database holds the revocation")
        #expect(try await LocalStack.eventually { try await revoke(server, link.code) == 204 })
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(link.code)").status == 410)
        try await server.stop()
    }

    @Test func usherShareCreateAndRevoke() async throws {
        let server = try await TestServer.start()
        let id = try await completedVideo(server)
        let environment = LocalStack.usherEnvironment(["USHER_PUBLIC_URL": "https://watch.example.com"])
        let created = try UsherBinary.run(["share", "create", id, "--ttl", "600", "--max-uses", "2"], environment: environment)
        #expect(created.status == 0, "\(created.stderr)")
        let url = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url.hasPrefix("https://watch.example.com/s/"))
        let code = String(url.dropFirst("https://watch.example.com/s/".count))
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(code)").status == 302)

        let revoked = try UsherBinary.run(["share", "revoke", code], environment: environment)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(code)").status == 410)

        for (arguments, message) in [
            (["share", "create", uniqueID("nobody"), "--ttl", "60"], "no generation"),
            (["share", "create", id, "--ttl", "0"], "--ttl must be from 1 to 31536000"),
            (["share", "create", id, "--max-uses", "0"], "--max-uses must be from 1"),
            (["share", "revoke", "nope"], "is not a share code"),
            (["share", "revoke", "CCCCCCCCCCCCCCCCCCCCCC"], "no share link with code"),
        ] {
            let outcome = try UsherBinary.run(arguments, environment: environment)
            #expect(outcome.status != 0)
            #expect(outcome.stderr.contains(message), "\(arguments): \(outcome.stderr)")
        }
        try await server.stop()
    }
}
