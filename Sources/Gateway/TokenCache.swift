import ViewerAuth

/// Verified viewer tokens of one event loop, so a player repeating its token pays one signature check.
///
/// Keyed by the token's signature segment (short and unique per token); the whole token is compared on a hit,
/// so a cached grant is only ever returned for the exact bytes that were verified. Entries leave at `exp`
/// (plus the verifier's leeway) and the cache is bounded.
final class TokenCache {
    /// A token's signature segment as a dictionary key, hashed and compared as raw bytes (Substring's own hashing
    /// goes through Unicode normalisation, several times the cost for what is always ASCII here).
    struct Key: Hashable {
        let signature: Substring

        func hash(into hasher: inout Hasher) {
            if signature.utf8.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) == nil {
                for byte in signature.utf8 { hasher.combine(byte) }
            }
        }

        static func == (a: Key, b: Key) -> Bool { a.signature == b.signature }
    }

    private var entries: [Key: (token: String, grant: ViewerGrant, validUntil: Int64)] = [:]
    private let capacity: Int
    /// The `ViewerKeys` generation the entries were verified under.
    var generation = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    func grant(for token: Substring, signature: Substring, now: Int64) -> ViewerGrant? {
        guard let entry = entries[Key(signature: signature)] else { return nil }
        guard entry.validUntil > now, entry.token[...] == token else {
            if entry.validUntil <= now { entries[Key(signature: signature)] = nil }
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
        entries[Key(signature: signature)] = (token, grant, validUntil)
    }

    func removeAll() { entries.removeAll() }
}
