import Foundation
import ServerTestSupport
import Testing
import UsherTestSupport

/// The operations kit (`deploy/observability/`) names only metrics a running Usher exports: a server with every role
/// serves some traffic on both listeners, then `deploy/observability/check` reads two scrapes of its `/metrics` and
/// fails on any metric or label the dashboard or the alert rules use that is not in them. (The rules themselves are
/// checked by `promtool check rules` and `promtool test rules`, in `deploy/validate`.)
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct ObservabilityKitTests {
    @Test func theDashboardAndTheAlertsUseOnlyExportedMetrics() async throws {
        let server = try await TestServer.start(roles: "gateway,webhook,worker")
        let id = try await server.registerVideo(upload: Data("not really a video".utf8))
        let token = try server.token(videoIDs: [id])
        // Both listeners' routes and statuses, a play, a lookup through each cache layer, a refused webhook.
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302)
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)").status == 401)
        #expect(try await TestHTTP.request("\(server.edgeURL)/healthz").status == 200)
        #expect(
            try await TestHTTP.request("\(server.appURL)/v1/generations/\(id)", headers: [("Authorization", "Bearer \(TestServer.adminToken)")])
                .status == 200)
        #expect(try await TestHTTP.request("\(server.appURL)/webhooks/fal", method: "POST", body: Data("{}".utf8)).status == 401)
        // Plays reach their counters at the next flush.
        try await Task.sleep(for: .seconds(3))
        var files: [String] = []
        for scrape in 1...2 {
            let metrics = try await TestHTTP.request("\(server.appURL)/metrics", headers: [("Cache-Control", "no-cache")])
            #expect(!metrics.body.isEmpty, "scrape \(scrape) is empty")
            #expect(metrics.status == 200)
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("usher-scrape-\(scrape)-\(UUID().uuidString).prom").path
            try metrics.body.write(to: URL(fileURLWithPath: path))
            files.append(path)
        }
        defer { for file in files { try? FileManager.default.removeItem(atPath: file) } }
        try await server.stop()

        let check = LocalStack.repositoryRoot.appendingPathComponent("deploy/observability/check").path
        let outcome = try spawnAndWait(
            "/usr/bin/env", ["python3", check, "--skip-promtool"] + files.flatMap { ["--metrics", $0] }, environment: LocalStack.environment)
        let output = String(decoding: outcome.stdout + outcome.stderr, as: UTF8.self)
        #expect(outcome.status == 0, "deploy/observability/check failed:\n\(output)")
        #expect(output.contains("all checks passed"), "\(output)")
    }
}
