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

    func grant(for token: Substring, signature: Substring, now: Int64) -> ViewerGrant? {
        guard let entry = entries[signature] else { return nil }
        guard entry.validUntil > now, entry.token[...] == token else {
            if entry.validUntil <= now { entries[signature] = nil }
            return nil
        }
        return entry.grant
    }

    /// `token` is the request's copy; the key is its signature segment, sharing its storage.
    func store(_ grant: ViewerGrant, token: String, validUntil: Int64, now: Int64) {
        let signature = token.utf8.lastIndex(of: UInt8(ascii: ".")).map { token[token.utf8.index(after: $0)...] } ?? token[...]
        if entries.count >= capacity {
            entries = entries.filter { $0.value.validUntil > now }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        }
        entries[signature] = (token, grant, validUntil)
    }

    func removeAll() { entries.removeAll() }
}
