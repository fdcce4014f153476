public import FalWebhook
import UsherCrypto

/// Verifies fal's Ed25519 webhook signatures over the raw body, before anything parses it (the rule:
/// `FalSignature`), with fal's keys from `FalKeyProvider`, refetched once when no cached key verifies.
public struct FalWebhookVerifier: Sendable {
    public let keys: FalKeyProvider
    /// Default 300 s.
    public var tolerance: Int64 = 300

    public init(keys: FalKeyProvider) { self.keys = keys }

    public func verify(_ headers: FalWebhookHeaders, body: [UInt8], now: Int64) async throws -> Result<Void, WebhookRejection> {
        switch FalSignature.check(headers, body: body, now: now, tolerance: tolerance, keys: try await keys.keys()) {
        case .valid:
            return .success(())
        case .rejected(let rejection):
            return .failure(rejection)
        case .unknownSignature:
            if let fresh = try await keys.refreshAfterUnknownSignature(),
                FalSignature.check(headers, body: body, now: now, tolerance: tolerance, keys: fresh) == .valid
            {
                return .success(())
            }
            return .failure(.unauthorized("signature does not verify under fal's keys"))
        }
    }
}
