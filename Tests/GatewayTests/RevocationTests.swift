import Foundation
import ServerTestSupport
import Testing
import UsherTestSupport
import ViewerAuth

/// `POST/DELETE /v1/revocations` and `usher revoke`: tokens by jti, viewers by sub, videos by request_id, in force on
/// every instance within 1 s.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct RevocationTests {
    static let admin = [("Authorization", "Bearer \(TestServer.adminToken)"), ("Content-Type", "application/json")]

    func revoke(_ server: TestServer, _ body: String) async throws -> HTTPResult {
        try await TestHTTP.request(server.appURL + "/v1/revocations", method: "POST", headers: Self.admin, body: Data(body.utf8))
    }

    func lift(_ server: TestServer, _ kind: String, _ value: String) async throws -> Int {
        try await TestHTTP.request(server.appURL + "/v1/revocations/\(kind)/\(value)", method: "DELETE", headers: Self.admin).status
    }

    func token(_ server: TestServer, id: String, subject: String, tokenID: String) throws -> String {
        let now = Int64(Date().timeIntervalSince1970)
        var claims = ViewerTokenMinter.Claims(issuedAt: now, expiresAt: now + 600)
        claims.videoIDs = [id]
        claims.subject = subject
        claims.tokenID = tokenID
        return try server.minter.mint(claims)
    }

    func video(_ server: TestServer) async throws -> String {
        try await server.registerVideo(uniqueID("rev"))
    }

    /// Polls both instances until `expected` holds on both, for at most a second; returns whether it did.
    func within1s(_ servers: [TestServer], path: (TestServer) -> String, expected: Int) async throws -> Bool {
        let deadline = Date().addingTimeInterval(1)
        while Date() < deadline {
            var all = true
            for server in servers where try await TestHTTP.request(path(server)).status != expected { all = false }
            if all { return true }
        }
        return false
    }

    @Test(arguments: ["jti", "sub"])
    func aRevokedTokenOrViewerGets401OnEveryInstanceWithinOneSecond(kind: String) async throws {
        let first = try await TestServer.start()
        let second = try await TestServer.start(["USHER_TOKEN_KEYS": first.keysPath])
        let id = try await video(first)
        let value = uniqueID(kind)
        let revoked = try token(first, id: id, subject: kind == "sub" ? value : "someone", tokenID: kind == "jti" ? value : uniqueID("other"))
        let unaffected = try token(first, id: id, subject: "someone-else", tokenID: uniqueID("fine"))
        for server in [first, second] {
            #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(revoked)").status == 302)  // cached as verified
        }

        let reply = try await revoke(first, #"{"\#(kind)":"\#(value)"}"#)
        #expect(reply.status == 201, "\(String(decoding: reply.body, as: UTF8.self))")
        #expect(try await within1s([first, second], path: { "\($0.edgeURL)/v/\(id)?token=\(revoked)" }, expected: 401))
        let refused = try await TestHTTP.request("\(second.edgeURL)/v/\(id)?token=\(revoked)")
        #expect(refused.header("WWW-Authenticate")?.contains(#"error="invalid_token""#) == true)
        #expect(try await TestHTTP.request("\(second.edgeURL)/v/\(id)?token=\(unaffected)").status == 302)

        #expect(try await lift(first, kind, value) == 204)
        #expect(try await within1s([first, second], path: { "\($0.edgeURL)/v/\(id)?token=\(revoked)" }, expected: 302))
        try await first.stop()
        try await second.stop()
    }

    @Test func aTakedownAnswers410OnTheVideoAndItsSharesUntilLifted() async throws {
        let first = try await TestServer.start()
        let second = try await TestServer.start(["USHER_TOKEN_KEYS": first.keysPath])
        let id = try await video(first)
        let other = try await video(first)
        let share = try await TestHTTP.request(
            first.appURL + "/v1/shares", method: "POST", headers: Self.admin, body: Data(#"{"request_id":"\#(id)","ttl_seconds":600}"#.utf8))
        let code = try #require((try JSONSerialization.jsonObject(with: share.body) as? [String: Any])?["code"] as? String)
        let ownerToken = try first.token(owner: "o")

        #expect(try await revoke(first, #"{"request_id":"\#(id)"}"#).status == 201)
        #expect(try await within1s([first, second], path: { "\($0.edgeURL)/v/\(id)?token=\(ownerToken)" }, expected: 410))
        #expect(try await TestHTTP.request("\(second.edgeURL)/s/\(code)").status == 410)
        // CONTRACT order: the token checks come first, so a takedown tells nothing to a viewer without access.
        #expect(try await TestHTTP.request("\(first.edgeURL)/v/\(id)").status == 401)
        let stranger = try first.token(videoIDs: ["someone-else"])
        #expect(try await TestHTTP.request("\(first.edgeURL)/v/\(id)?token=\(stranger)").status == 403)
        #expect(try await TestHTTP.request("\(second.edgeURL)/v/\(other)?token=\(ownerToken)").status == 302)

        #expect(try await lift(second, "request_id", id) == 204)
        #expect(try await within1s([first, second], path: { "\($0.edgeURL)/v/\(id)?token=\(ownerToken)" }, expected: 302))
        #expect(try await TestHTTP.request("\(first.edgeURL)/s/\(code)").status == 302)
        try await first.stop()
        try await second.stop()
    }

    @Test func untilBoundsARevocationAndBadBodiesAre400() async throws {
        let server = try await TestServer.start()
        let id = try await video(server)
        let pastID = uniqueID("past")
        let past = try token(server, id: id, subject: "s", tokenID: pastID)
        #expect(try await revoke(server, #"{"jti":"\#(pastID)","until":"2001-01-01T00:00:00Z"}"#).status == 201)
        let futureID = uniqueID("future")
        let future = try token(server, id: id, subject: "s", tokenID: futureID)
        let created = try await revoke(server, #"{"jti":"\#(futureID)","until":"2099-01-01T00:00:00Z"}"#)
        #expect(created.status == 201)
        #expect(String(decoding: created.body, as: UTF8.self).contains(#""until":"2099-01-01T00:00:00Z""#))
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(past)").status == 302, "an expired revocation is not in force")
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(future)").status == 401)

        for body in [
            "{}", #"{"jti":"a","sub":"b"}"#, #"{"jti":""}"#, #"{"jti":7}"#, #"{"jwt":"a"}"#, #"{"jti":"a","until":"tomorrow"}"#,
            #"{"jti":"a","until":"2026-13-45T99:00:00Z"}"#, "[]", "nope",
        ] {
            let reply = try await revoke(server, body)
            #expect(reply.status == 400, "\(body) → \(reply.status)")
            #expect(reply.header("Content-Type") == "application/problem+json")
        }
        #expect(try await lift(server, "kid", "x") == 404)
        #expect(try await lift(server, "jti", "never-revoked") == 204)
        try await server.stop()
    }

    /// With Redis down there is no version to poll: instances reload from Postgres (README: every second).
    /// The other instance sees it without Redis's version: checked on a second instance, which did not write it.
    @Test func aTakedownWhileRedisIsDownIsInForceFromPostgres() async throws {
        let server = try await TestServer.start()
        let other = try await TestServer.start(["USHER_TOKEN_KEYS": server.keysPath])
        let id = try await video(server)
        let token = try server.token(owner: "o")
        #expect(try await TestHTTP.request("\(other.edgeURL)/v/\(id)?token=\(token)").status == 302)
        let inForce = try await LocalStack.whileStopped("redis") {
            #expect(try await revoke(server, #"{"request_id":"\#(id)"}"#).status == 201)
            return try await LocalStack.eventually(within: 3) {
                try await TestHTTP.request("\(other.edgeURL)/v/\(id)?token=\(token)").status == 410
            }
        }
        #expect(inForce, "the second instance reloads from Postgres while Redis is down")
        #expect(try await lift(server, "request_id", id) == 204)
        try await server.stop()
        try await other.stop()
    }

    @Test func usherRevokeAndUnrevoke() async throws {
        let server = try await TestServer.start()
        let id = try await video(server)
        let token = try server.token(owner: "o")
        // A command that never touches the bucket needs no S3 settings (one configuration reader; S3 read on use).
        let environment = LocalStack.usherEnvironment().filter { !$0.key.hasPrefix("S3_") }
        let revoked = try UsherBinary.run(["revoke", "request_id", id], environment: environment)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(try await LocalStack.eventually(within: 2) { try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 410 })
        let lifted = try UsherBinary.run(["unrevoke", "request_id", id], environment: environment)
        #expect(lifted.status == 0, "\(lifted.stderr)")
        #expect(try await LocalStack.eventually(within: 2) { try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302 })
        let again = try UsherBinary.run(["unrevoke", "request_id", id], environment: environment)
        #expect(again.status != 0)
        #expect(again.stderr.contains("is not revoked"))
        let badKind = try UsherBinary.run(["revoke", "kid", "x"], environment: environment)
        #expect(badKind.status != 0)
        let badUntil = try UsherBinary.run(["revoke", "jti", "x", "--until", "soon"], environment: environment)
        #expect(badUntil.status != 0)
        #expect(badUntil.stderr.contains("RFC 3339"), "\(badUntil.stderr)")
        try await server.stop()
    }
}
