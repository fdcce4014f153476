import Foundation
public import UsherCrypto

/// Why a webhook delivery was refused, with the HTTP status CONTRACT gives it.
public struct WebhookRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let detail: String

    public var description: String { "\(status) \(code): \(detail)" }

    public static func unauthorized(_ detail: String) -> WebhookRejection { WebhookRejection(status: 401, code: "bad-signature", detail: detail) }
    public static func badRequest(_ detail: String) -> WebhookRejection { WebhookRejection(status: 400, code: "bad-webhook", detail: detail) }
    public static func unknownSender(_ detail: String) -> WebhookRejection { WebhookRejection(status: 403, code: "unknown-sender", detail: detail) }
}

/// The signature headers of a fal webhook delivery.
public struct FalWebhookHeaders: Sendable {
    public var requestID: String?
    public var userID: String?
    public var timestamp: String?
    public var signature: String?

    public init(requestID: String?, userID: String?, timestamp: String?, signature: String?) {
        self.requestID = requestID
        self.userID = userID
        self.timestamp = timestamp
        self.signature = signature
    }
}

/// fal's signature rule, without I/O: what `FalWebhookVerifier` applies with fal's current keys, and what the fuzzer
/// drives directly.
///
/// Signed bytes: `request_id + "\n" + user_id + "\n" + timestamp + "\n" + hex(sha256(body))`; the timestamp must
/// be within ±`tolerance` s; any of the keys may have signed.
public enum FalSignature {
    public enum Outcome: Sendable, Equatable {
        case valid
        /// Well-formed, but no key verifies it: fal may have rotated its keys.
        case unknownSignature
        case rejected(WebhookRejection)
    }

    public static func signedBytes(requestID: String, userID: String, timestamp: String, body: some ContiguousByteStorage) -> [UInt8] {
        let digest = body.withUnsafeBytes { SHA256.hash($0) }
        return Array("\(requestID)\n\(userID)\n\(timestamp)\n\(digest.hexString)".utf8)
    }

    public static func check(
        _ headers: FalWebhookHeaders, body: [UInt8], now: Int64, tolerance: Int64 = 300, keys: [Ed25519PublicKey]
    ) -> Outcome {
        if let rejection = precheck(headers, now: now, tolerance: tolerance) { return .rejected(rejection) }
        guard let requestID = headers.requestID, let userID = headers.userID, let timestamp = headers.timestamp,
            let signature = headers.signature.flatMap(Hex.decode)
        else {
            return .rejected(.unauthorized("missing X-Fal-Webhook-Request-Id, -User-Id, -Timestamp or -Signature"))
        }
        let message = signedBytes(requestID: requestID, userID: userID, timestamp: timestamp, body: body)
        return keys.contains(where: { $0.isValidSignature(signature, for: message) }) ? .valid : .unknownSignature
    }

    /// What can be refused without fal's keys: missing headers, a stale or unreadable timestamp, a signature that is
    /// not 64 bytes of hex. Checked before any key is fetched, so junk requests never reach fal's key endpoint.
    public static func precheck(_ headers: FalWebhookHeaders, now: Int64, tolerance: Int64 = 300) -> WebhookRejection? {
        guard headers.requestID != nil, headers.userID != nil, let timestamp = headers.timestamp, let signatureHex = headers.signature
        else {
            return .unauthorized("missing X-Fal-Webhook-Request-Id, -User-Id, -Timestamp or -Signature")
        }
        // Overflow-safe: a timestamp near Int64.min made `now - seconds` trap (found by FuzzWebhook), which would
        // have let anyone crash the process with one header.
        guard let seconds = Int64(timestamp), case let (difference, overflow) = now.subtractingReportingOverflow(seconds), !overflow,
            difference.magnitude <= tolerance.magnitude
        else {
            return .unauthorized("timestamp outside ±\(tolerance) s")
        }
        guard let signature = Hex.decode(signatureHex), signature.count == 64 else {
            return .unauthorized("signature is not 64 bytes of hex")
        }
        return nil
    }
}

/// What a fal webhook says, parsed after its signature checked out.
public struct FalWebhookPayload: Sendable, Equatable {
    public enum Result: Sendable, Equatable {
        case video(url: String, contentType: String?, fileSize: Int64?)
        /// fal reported an error, or OK without a usable video.
        case failure(String)
    }

    public let requestID: String
    public let result: Result

    public init(requestID: String, result: Result) {
        self.requestID = requestID
        self.result = result
    }

    /// Parses fal's payload `{request_id, gateway_request_id, status, payload, error, payload_error}`.
    public static func parse(_ body: [UInt8]) -> Swift.Result<FalWebhookPayload, WebhookRejection> {
        guard let wire = try? JSONDecoder().decode(FalWebhookBody.self, from: Data(body)) else {
            return .failure(.badRequest("body is not a JSON object"))
        }
        guard let requestID = wire.requestID, !requestID.isEmpty else {
            return .failure(.badRequest("request_id is missing"))
        }
        switch wire.status?.uppercased() {
        case "OK", "COMPLETED":
            if let payloadError = wire.payloadError, !payloadError.isEmpty {
                return .success(FalWebhookPayload(requestID: requestID, result: .failure("payload_error: \(payloadError)")))
            }
            guard let video = wire.payload?.video, let url = video.url, !url.isEmpty else {
                return .success(FalWebhookPayload(requestID: requestID, result: .failure("fal reported OK without payload.video.url")))
            }
            return .success(
                FalWebhookPayload(requestID: requestID, result: .video(url: url, contentType: video.contentType, fileSize: video.fileSize)))
        case "ERROR":
            return .success(FalWebhookPayload(requestID: requestID, result: .failure(wire.error ?? "fal reported ERROR")))
        default:
            return .failure(.badRequest("status must be OK, COMPLETED or ERROR"))
        }
    }
}
