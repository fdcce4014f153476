import Foundation
import Testing
import UsherCrypto
import UsherTestSupport
import ViewerAuth

#if canImport(Glibc)
import Glibc
#endif

/// `usher serve` re-reads USHER_TOKEN_KEYS on SIGHUP, and keeps the keys in use when the new file is bad.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct KeyReloadTests {
    static func jwks(_ secrets: [(String, [UInt8])]) -> String {
        #"{"keys":["# + secrets.map { #"{"kty":"oct","kid":"\#($0.0)","k":"\#(Base64URL.encode($0.1))"}"# }.joined(separator: ",") + "]}"
    }

    static func token(kid: String, secret: [UInt8]) throws -> String {
        let keySet = try ViewerKeySet(jwks: Array(jwks([(kid, secret)]).utf8))
        let now = Int64(Date().timeIntervalSince1970)
        var claims = ViewerTokenMinter.Claims(issuedAt: now, expiresAt: now + 600)
        claims.videoIDs = ["no-such-video"]
        return try ViewerTokenMinter(key: keySet.keys[0]).mint(claims)
    }

    @Test func sighupReloadsTheKeyFile() async throws {
        let old = try SecureRandom.bytes(32)
        let new = try SecureRandom.bytes(32)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.jwks([("old", old)]).write(toFile: path, atomically: true, encoding: .utf8)

        let environment = LocalStack.usherEnvironment([
            "USHER_LISTEN": "127.0.0.1:18480", "USHER_APP_LISTEN": "127.0.0.1:18481", "USHER_TOKEN_KEYS": path,
        ])
        let server = try SpawnedProcess(UsherBinary.url.path, ["serve", "--roles", "gateway"], environment: environment)
        defer { server.kill() }
        let edge = "http://127.0.0.1:18480"
        let up = try await LocalStack.eventually { (try? await TestHTTP.request(edge + "/healthz").status) == 200 }
        try #require(up, "usher serve did not start")

        // A valid token on an unknown id is a 404; a token the server cannot verify is a 401.
        let oldToken = try Self.token(kid: "old", secret: old)
        let newToken = try Self.token(kid: "new", secret: new)
        #expect(try await TestHTTP.request("\(edge)/v/no-such-video?token=\(oldToken)").status == 404)
        #expect(try await TestHTTP.request("\(edge)/v/no-such-video?token=\(newToken)").status == 401)

        func reload() async throws {
            _ = Glibc.kill(server.pid, SIGHUP)
            try await Task.sleep(for: .milliseconds(500))
        }
        // Rotation: the new key joins, the old one leaves.
        try Self.jwks([("new", new)]).write(toFile: path, atomically: true, encoding: .utf8)
        try await reload()
        #expect(try await TestHTTP.request("\(edge)/v/no-such-video?token=\(newToken)").status == 404)
        #expect(try await TestHTTP.request("\(edge)/v/no-such-video?token=\(oldToken)").status == 401, "a removed key still verifies")

        // A broken file is refused and the keys in use stay.
        try "{ not json".write(toFile: path, atomically: true, encoding: .utf8)
        try await reload()
        #expect(try await TestHTTP.request("\(edge)/v/no-such-video?token=\(newToken)").status == 404)
        try Self.jwks([("short", [UInt8](repeating: 1, count: 16))]).write(toFile: path, atomically: true, encoding: .utf8)
        try await reload()
        #expect(try await TestHTTP.request("\(edge)/v/no-such-video?token=\(newToken)").status == 404)
        try FileManager.default.removeItem(atPath: path)
        try await reload()
        #expect(try await TestHTTP.request("\(edge)/v/no-such-video?token=\(newToken)").status == 404, "a missing file keeps the keys too")

        // CONTRACT § Processes: the app listener is open in every role, for /metrics, /healthz and /readyz.
        let app = "http://127.0.0.1:18481"
        #expect(try await TestHTTP.request(app + "/healthz").status == 200)
        #expect(try await TestHTTP.request(app + "/readyz").status == 200)
        let metrics = try await TestHTTP.request(app + "/metrics")
        #expect(metrics.status == 200 && String(decoding: metrics.body, as: UTF8.self).contains("usher_http_requests_total"))
        #expect(try await TestHTTP.request(app + "/v1/generations/x").status == 404, "no admin API in the gateway role")
    }

    @Test func sighupWithoutAKeyFileIsLoggedAndTheProcessStays() async throws {
        let environment = LocalStack.usherEnvironment(["USHER_LISTEN": "127.0.0.1:18482", "USHER_APP_LISTEN": "127.0.0.1:18483"])
            .filter { $0.key != "USHER_TOKEN_KEYS" }
        let server = try SpawnedProcess(UsherBinary.url.path, ["serve", "--roles", "webhook"], environment: environment)
        defer { server.kill() }
        let app = "http://127.0.0.1:18483"
        try #require(try await LocalStack.eventually { (try? await TestHTTP.request(app + "/healthz").status) == 200 }, "usher serve did not start")
        _ = Glibc.kill(server.pid, SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        #expect(kill(server.pid, 0) == 0, "an untrapped SIGHUP would have ended the process")
        #expect(try await TestHTTP.request(app + "/healthz").status == 200)
        #expect(try await TestHTTP.request(app + "/metrics").status == 200)
    }
}
