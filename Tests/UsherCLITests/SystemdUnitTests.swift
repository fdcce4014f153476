import Foundation
import Testing
import UsherTestSupport

/// `deploy/systemd/usher-gateway.service` run the way systemd would: its ExecStart flags, its env file
/// (`deploy/systemd/usher.env`) and its `Environment=` lines with the credentials directory (`%d`), then SIGTERM.
/// Only what an operator must fill in for their machine (database, Redis, bucket, listen ports) is replaced by the
/// local stack's values.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason))
struct SystemdUnitTests {
    static let directory = LocalStack.repositoryRoot.appendingPathComponent("deploy/systemd")

    /// `Key=value` settings of a unit's `[Service]` section, in order (keys may repeat).
    static func settings(_ unit: String) throws -> [(key: String, value: String)] {
        try String(contentsOf: directory.appendingPathComponent(unit), encoding: .utf8).split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), !line.hasPrefix("["), let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }
    }

    /// An EnvironmentFile: `NAME=value` lines, comments and blank lines ignored.
    static func environmentFile(_ path: URL) throws -> [String: String] {
        var values: [String: String] = [:]
        for line in try String(contentsOf: path, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    @Test func theGatewayUnitStartsServesAndStopsGracefully() async throws {
        let unit = try Self.settings("usher-gateway.service")
        let exec = try #require(unit.first { $0.key == "ExecStart" }?.value).split(separator: " ").map(String.init)
        #expect(exec.first == "/usr/local/bin/usher")
        #expect(unit.first { $0.key == "EnvironmentFile" }?.value == "/etc/usher/usher.env")
        let stopTimeout = try #require(unit.first { $0.key == "TimeoutStopSec" }.flatMap { Double($0.value) })

        // The credentials directory systemd would make for LoadCredential=token-keys.json:….
        let credentials = FileManager.default.temporaryDirectory.appendingPathComponent("usher-credentials-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: credentials) }
        try #"{"keys":[{"kty":"oct","kid":"ops","k":"c3lzdGVtZC10ZXN0LWtleS10aGlydHktdHdvLWJ5dGVzLWxvbmc"}]}"#
            .write(to: credentials.appendingPathComponent("token-keys.json"), atomically: true, encoding: .utf8)

        var environment = try Self.environmentFile(Self.directory.appendingPathComponent("usher.env"))
        for (key, value) in unit where key == "Environment" {
            let equals = try #require(value.firstIndex(of: "="))
            environment[String(value[..<equals])] = value[value.index(after: equals)...].replacingOccurrences(of: "%d", with: credentials.path)
        }
        let stack = LocalStack.usherEnvironment()
        for name in ["DATABASE_URL", "REDIS_URL", "S3_ENDPOINT", "S3_REGION", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"] {
            environment[name] = stack[name]
        }
        let (edge, app) = (try freeLoopbackPort(), try freeLoopbackPort())
        environment["USHER_LISTEN"] = "127.0.0.1:\(edge)"
        environment["USHER_APP_LISTEN"] = "127.0.0.1:\(app)"
        environment["PATH"] = "/usr/bin:/bin"

        let process = try SpawnedProcess(UsherBinary.url.path, Array(exec.dropFirst()), environment: environment)
        var stopped = false
        defer { if !stopped { process.kill() } }
        #expect(
            try await LocalStack.eventually(within: 30) {
                (try? await TestHTTP.request("http://127.0.0.1:\(app)/readyz").status) == 200
            }, "the unit's usher did not become ready")
        #expect(try await TestHTTP.request("http://127.0.0.1:\(edge)/healthz").status == 200)
        // The env file's admin token and the credential's viewer key are the ones in use.
        let admin = try #require(environment["USHER_ADMIN_TOKENS"])
        let unknown = try await TestHTTP.request("http://127.0.0.1:\(app)/v1/generations/no-such-id", headers: [("Authorization", "Bearer \(admin)")])
        #expect(unknown.status == 404)
        let forged = try await TestHTTP.request("http://127.0.0.1:\(edge)/v/x?token=a.b.c")
        #expect(forged.status == 401)

        let status = process.terminate(within: stopTimeout)
        stopped = true
        #expect(status == 0, "SIGTERM must end the service cleanly within TimeoutStopSec (\(stopTimeout) s)")
    }
}
