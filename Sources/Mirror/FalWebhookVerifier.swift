public import FalWebhook
import UsherCrypto

/// Verifies fal's Ed25519 webhook signatures over the raw body, before anything parses it (the rule:
/// `FalSignature`), with fal's keys from `FalKeyProvider`, refetched once when no cached key verifies.
public struct FalWebhookVerifier: Sendable {
    public let keys: FalKeyProvider
    /// Default 300 s.
    public var tolerance: Int64 = 300
    /// `FAL_WEBHOOK_USER_IDS`: the fal accounts whose webhooks are accepted. Any fal customer can have fal sign a
    /// webhook to any URL, so a valid signature alone proves only that fal sent it. nil: any sender (warned at start).
    public var allowedUserIDs: Set<String>?

    public init(keys: FalKeyProvider, allowedUserIDs: Set<String>? = nil) {
        self.keys = keys
        self.allowedUserIDs = allowedUserIDs
    }

    /// The signature, then the sender: a verified webhook from a fal user not in `allowedUserIDs` is refused (403).
    public func verifySender(_ headers: FalWebhookHeaders, body: [UInt8], now: Int64) async throws -> Result<Void, WebhookRejection> {
        let verdict = try await verify(headers, body: body, now: now)
        guard case .success = verdict, let allowedUserIDs else { return verdict }
        guard let userID = headers.userID, allowedUserIDs.contains(userID) else {
            return .failure(.unknownSender("webhooks from this fal user id are not accepted (FAL_WEBHOOK_USER_IDS)"))
        }
        return .success(())
    }

    /// Refuses what needs no key first (`FalSignature.precheck`), so junk never triggers a key fetch; throws only
    /// when fal's keys cannot be had (the caller answers 503, and fal retries).
    public func verify(_ headers: FalWebhookHeaders, body: [UInt8], now: Int64) async throws -> Result<Void, WebhookRejection> {
        if let rejection = FalSignature.precheck(headers, now: now, tolerance: tolerance) { return .failure(rejection) }
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
