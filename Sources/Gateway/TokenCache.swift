import ViewerAuth

/// Verified viewer tokens of one event loop, so a player repeating its token pays one signature check.
///
/// Keyed by the token's signature segment (short and unique per token); the whole token is compared on a hit,
/// so a cached grant is only ever returned for the exact bytes that were verified. Entries leave at `exp`
/// (plus the verifier's leeway) and the cache is bounded.
final class TokenCache {
    private var entries: [Substring: (token: String, grant: ViewerGrant, validUntil: Int64)] = [:]
    private let capacity: Int
    /// The `ViewerKeys` generation the entries were verified under.
    var generation = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    func grant(for token: String, signature: Substring, now: Int64) -> ViewerGrant? {
        guard let entry = entries[signature] else { return nil }
        guard entry.validUntil > now, entry.token == token else {
            if entry.validUntil <= now { entries[signature] = nil }
            return nil
        }
        return entry.grant
    }

    func store(_ grant: ViewerGrant, token: String, signature: Substring, validUntil: Int64, now: Int64) {
        if entries.count >= capacity {
            entries = entries.filter { $0.value.validUntil > now }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        }
        entries[signature] = (token, grant, validUntil)
    }

    func removeAll() { entries.removeAll() }
}
