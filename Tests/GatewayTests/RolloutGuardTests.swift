import Foundation
import Logging
import ServerTestSupport
import Testing
import UsherServer
import UsherTestSupport

/// Report-only mode (`USHER_AUTH_REPORT_ONLY`) and the credential-lifetime guard (`S3_CREDENTIALS_EXPIRE_AT`).
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct RolloutGuardTests {
    func privateVideo(_ server: TestServer) async throws -> String {
        try await server.registerVideo(uniqueID("guard"))
    }

    @Test func reportOnlyLetsAuthFailuresThroughAndCountsThem() async throws {
        let server = try await TestServer.start(["USHER_AUTH_REPORT_ONLY": "1"])
        let id = try await privateVideo(server)
        let other = try server.token(videoIDs: ["someone-else"])
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)").status == 302, "missing token")
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=a.b.c").status == 302, "invalid token")
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(other)").status == 302, "out of scope")
        let metrics = String(decoding: try await TestHTTP.request("\(server.appURL)/metrics").body, as: UTF8.self)
        for reason in ["missing_token", "invalid_token", "not_in_scope"] {
            #expect(metrics.contains(#"usher_auth_report_only_total{reason="\#(reason)"}"#), "\(reason) counted")
        }
        // What is not about the viewer's token still applies: a takedown answers 410.
        let admin = [("Authorization", "Bearer \(TestServer.adminToken)"), ("Content-Type", "application/json")]
        _ = try await TestHTTP.request(
            server.appURL + "/v1/revocations", method: "POST", headers: admin, body: Data(#"{"request_id":"\#(id)"}"#.utf8))
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)").status == 410)
        try await server.stop()
    }

    @Test func noURLOutlivesTemporaryCredentials() async throws {
        let now = Int64(Date().timeIntervalSince1970)
        let server = try await TestServer.start(["S3_SESSION_TOKEN": "session-token-for-test", "S3_CREDENTIALS_EXPIRE_AT": String(now + 120)])
        let id = try await privateVideo(server)
        let redirect = try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(try server.token(videoIDs: [id]))")
        #expect(redirect.status == 302)
        let location = try #require(redirect.header("Location"))
        let expires = try #require(URLComponents(string: location)?.queryItems?.first { $0.name == "X-Amz-Expires" }?.value.flatMap { Int($0) })
        #expect((115...120).contains(expires), "X-Amz-Expires \(expires) must end with the credentials, not after PRESIGN_TTL")
        #expect(location.contains("X-Amz-Security-Token=session-token-for-test"))
        let maxAge = redirect.header("Cache-Control").flatMap { Int($0.replacingOccurrences(of: "private, max-age=", with: "")) }
        #expect(maxAge.map { $0 <= 60 } == true, "\(redirect.header("Cache-Control") ?? "-")")
        try await server.stop()

        let expired = try await TestServer.start(["S3_SESSION_TOKEN": "session-token-for-test", "S3_CREDENTIALS_EXPIRE_AT": String(now - 10)])
        let reply = try await TestHTTP.request("\(expired.edgeURL)/v/\(id)?token=\(try expired.token(videoIDs: [id]))")
        #expect(reply.status == 503, "no URL is better than one that cannot work")
        try await expired.stop()
    }

    @Test func theWatchWarnsBeforeAndAfterExpiry() {
        let watch = CredentialWatch(expiresAt: 10_000, logger: Logger(label: "t"), now: { 0 })
        #expect(watch.message(at: 5_000) == nil)
        #expect(watch.message(at: 9_200)?.0 == .warning)
        #expect(watch.message(at: 9_200)?.1.contains("expire in 800 s") == true)
        #expect(watch.message(at: 10_001)?.0 == .error)
    }

    @Test func credentialExpiryIsReadAsUnixSecondsOrRFC3339() throws {
        #expect(try ConfigurationReader(["X": "1764460800"]).instant("X") == 1_764_460_800)
        #expect(try ConfigurationReader(["X": "2025-11-30T00:00:00Z"]).instant("X") == 1_764_460_800)
        #expect(throws: ConfigurationError.self) { try ConfigurationReader(["X": "tomorrow"]).instant("X") }
    }
}
