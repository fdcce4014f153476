public import Delivery
import FalWebhook
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import Metrics
import Mirror

/// `POST /webhooks/fal` (CONTRACT § Mirror): signature first, over the raw body; then the payload; then one
/// atomic statement that records it and queues the mirror. Answers in milliseconds; the worker does the rest.
struct FalWebhookController<Context: RequestContext>: Sendable {
    let verifier: FalWebhookVerifier
    /// Writes the outcome and updates the caches.
    let generations: Generations
    let metrics = WebhookMetrics()

    static var maximumBody: Int { 1 << 20 }

    func addRoutes(to router: Router<Context>) {
        router.post("webhooks/fal", use: receive)
    }

    @Sendable func receive(request: Request, context: Context) async throws -> Response {
        let body: [UInt8]
        do {
            body = Array(buffer: try await request.body.collect(upTo: Self.maximumBody))
        } catch {
            metrics.count(.tooLarge)
            throw ProblemError(.contentTooLarge, code: "too-large", detail: "Webhook bodies are limited to 1 MiB.")
        }
        let headers = FalWebhookHeaders(
            requestID: request.headers[values: HTTPField.Name("X-Fal-Webhook-Request-Id")!].first,
            userID: request.headers[values: HTTPField.Name("X-Fal-Webhook-User-Id")!].first,
            timestamp: request.headers[values: HTTPField.Name("X-Fal-Webhook-Timestamp")!].first,
            signature: request.headers[values: HTTPField.Name("X-Fal-Webhook-Signature")!].first)
        let verdict: Result<Void, WebhookRejection>
        do {
            verdict = try await verifier.verifySender(headers, body: body, now: Int64(Date().timeIntervalSince1970))
        } catch {
            // fal's keys could not be loaded: ask fal to retry rather than refuse for good.
            metrics.count(.keysUnavailable)
            throw ProblemError.unavailable("fal's signing keys are unavailable.")
        }
        if case .failure(let rejection) = verdict {
            // Refused before the body is parsed: nothing is stored and nothing is fetched.
            metrics.count(rejection.status == 403 ? .unknownSender : .badSignature)
            throw ProblemError(.init(code: rejection.status), code: rejection.code, detail: rejection.detail)
        }
        let payload: FalWebhookPayload
        switch FalWebhookPayload.parse(body) {
        case .success(let parsed): payload = parsed
        case .failure(let rejection):
            metrics.count(.badPayload)
            throw ProblemError.badRequest(rejection.detail)
        }
        guard payload.requestID == headers.requestID else {
            metrics.count(.idMismatch)
            throw ProblemError.badRequest("X-Fal-Webhook-Request-Id differs from the body's request_id.")
        }
        guard RequestID.isValid(payload.requestID) else {
            metrics.count(.badPayload)
            throw ProblemError.badRequest("request_id must be 1 to 128 of A-Za-z0-9._-.")
        }
        metrics.count(.ok)

        let outcome: WebhookOutcome
        do {
            switch payload.result {
            case .video(let url, let contentType, let fileSize):
                outcome = try await generations.acceptVideo(
                    requestID: payload.requestID, sourceURL: url, contentType: contentType, fileSize: fileSize)
            case .failure(let reason):
                outcome = try await generations.rejectVideo(requestID: payload.requestID, sourceURL: nil, reason: String(reason.prefix(2000)))
            }
        } catch let error as any StorageFailure where error.isUnavailable {
            throw ProblemError.unavailable("The database is unavailable; fal will retry.")
        }
        let state =
            switch outcome {
            case .enqueued: "enqueued"
            case .failed: "failed"
            case .unchanged: "unchanged"
            }
        return try JSONBody.response(WebhookReceiptBody(requestID: payload.requestID, result: state), status: .ok)
    }
}

/// Webhook verifications by result, for `/metrics`. Every result's counter exists from the start at zero: a series
/// born at 1 hides its first event from `increase()`, and so from the alerts (deploy/observability).
struct WebhookMetrics: Sendable {
    enum Result: String, CaseIterable {
        case ok
        case tooLarge = "too_large"
        case keysUnavailable = "keys_unavailable"
        case unknownSender = "unknown_sender"
        case badSignature = "bad_signature"
        case badPayload = "bad_payload"
        case idMismatch = "id_mismatch"
    }

    private let counters: [Result: Counter]

    init() {
        counters = Dictionary(
            uniqueKeysWithValues: Result.allCases.map {
                ($0, Counter(label: "usher_webhook_verifications_total", dimensions: [("result", $0.rawValue)]))
            })
    }

    func count(_ result: Result) { counters[result]?.increment() }
}
