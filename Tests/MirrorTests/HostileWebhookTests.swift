import AsyncHTTPClient
import FalWebhook
import Foundation
import Logging
import Mirror
import ServerTestSupport
import Testing
import UsherTestSupport

/// The fal webhook faces the internet: who may send it, and what junk costs (CONTRACT § POST /webhooks/fal).
extension MirrorIntegrationTests {
    /// Any fal customer can have fal sign a webhook to our URL: with `FAL_WEBHOOK_USER_IDS`, another account's
    /// correctly signed webhook is refused (403) and nothing is stored or fetched.
    @Test func aWebhookFromAnotherFalAccountIsRefusedAndChangesNothing() async throws {
        let server = try await server(["FAL_WEBHOOK_USER_IDS": "someone-else, another"])
        let id = uniqueID("sender")
        let body = FalSigner.okBody(requestID: id, url: "\(fal.base)/files/\(id).mp4?size=1000")
        let reply = try await deliver(server, requestID: id, body: body)
        #expect(reply.status == 403)
        #expect(reply.header("Content-Type") == "application/problem+json")
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await generation(server, id) == nil, "no row")
        #expect(fal.requests("/files/\(id).mp4") == 0, "nothing fetched")
        try await server.stop()

        let listed = try await self.server(["FAL_WEBHOOK_USER_IDS": "another,\(signer.userID)"])
        #expect(try await deliver(listed, requestID: id, body: body).status == 200, "a listed account is accepted")
        #expect(try await settled(listed, id)?["status"] as? String == "COMPLETED")
        try await listed.stop()
    }

    /// Junk (no signature headers, stale timestamps) is refused before any key is fetched; concurrent deliveries
    /// share one fetch; a failing key endpoint is asked once, not once per request.
    @Test func fals_keysAreFetchedOnceAndNeverForJunk() async throws {
        let logger = Logger(label: "test")
        let now = Int64(Date().timeIntervalSince1970)
        let verifier = FalWebhookVerifier(keys: FalKeyProvider(source: .urls(["\(fal.base)/jwks"]), httpClient: HTTPClient.shared, logger: logger))
        let body = Array("{}".utf8)
        for _ in 0..<20 {
            let none = FalWebhookHeaders(requestID: nil, userID: nil, timestamp: nil, signature: nil)
            #expect(Self.rejection(try await verifier.verify(none, body: body, now: now))?.status == 401)
            let stale = FalWebhookHeaders(requestID: "r", userID: "u", timestamp: String(now - 3600), signature: String(repeating: "ab", count: 64))
            #expect(Self.rejection(try await verifier.verify(stale, body: body, now: now))?.status == 401)
        }
        #expect(fal.requests("/jwks") == 0, "junk never reaches the key endpoint")

        let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for n in 0..<20 {
                let id = "concurrent-\(n)"
                let signed = try signer.headers(requestID: id, body: Data(body), timestamp: now)
                let headers = FalWebhookHeaders(
                    requestID: id, userID: signed.first { $0.0 == "X-Fal-Webhook-User-Id" }?.1,
                    timestamp: String(now), signature: signed.first { $0.0 == "X-Fal-Webhook-Signature" }?.1)
                group.addTask { Self.rejection(try await verifier.verify(headers, body: body, now: now)) == nil }
            }
            var all: [Bool] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(accepted.count == 20 && accepted.allSatisfy { $0 })
        #expect(fal.requests("/jwks") == 1, "one fetch for 20 concurrent deliveries: \(fal.requests("/jwks"))")

        let failing = FalWebhookVerifier(
            keys: FalKeyProvider(source: .urls(["\(fal.base)/status/500"]), httpClient: HTTPClient.shared, logger: logger))
        let before = fal.requests("/status/500")
        let signed = try signer.headers(requestID: "r", body: Data(body), timestamp: now)
        let headers = FalWebhookHeaders(
            requestID: "r", userID: signed.first { $0.0 == "X-Fal-Webhook-User-Id" }?.1, timestamp: String(now),
            signature: signed.first { $0.0 == "X-Fal-Webhook-Signature" }?.1)
        for _ in 0..<20 {
            await #expect(throws: (any Error).self) { try await failing.verify(headers, body: body, now: now) }
        }
        #expect(fal.requests("/status/500") - before == 1, "a failing endpoint is asked once within the back-off")
    }

    static func rejection(_ verdict: Result<Void, WebhookRejection>) -> WebhookRejection? {
        if case .failure(let rejection) = verdict { return rejection }
        return nil
    }
}
