import ViewerAuth

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Verified viewer tokens of one event loop, so a player repeating its token pays one signature check.
///
/// Found by the first 16 bytes of the token's signature segment, held inline in the table: probing compares two
/// integers, where a string key read another token's bytes from the heap at every probe (under load with 10,000
/// tokens, `perf` put this lookup at 4.5 % of the gateway's samples, against 5.7 % with the string key). A
/// signature is unpredictable, so its prefix spreads the keys; the whole token is still compared, byte for byte, on a
/// hit, so a cached grant is only ever returned for the exact bytes that were verified. Entries leave at `exp` (plus the
/// verifier's leeway) and the cache is bounded.
///
/// When full, expired entries are swept (at most every 10 s), and then one entry leaves per new one, in table
/// order. The first version emptied the whole cache instead: with more live tokens than fit, each refill pushed
/// out what the next round asked for, so none was served from the cache and each paid its signature check again
/// (EdDSA: 189 µs). Evicting one at a time keeps about `capacity` of them served
/// (`theTokenCacheStaysUsefulBeyondItsCapacity`).
final class TokenCache {
    struct Key: Hashable {
        let high: UInt64
        let low: UInt64

        /// The first 16 bytes of `signature` (zero-padded when shorter, a malformed token's case).
        init(signature: Substring) {
            var bytes: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &bytes) { key in
                let copied: Void? = signature.utf8.withContiguousStorageIfAvailable { source in
                    key.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(source).prefix(16)))
                }
                if copied == nil {
                    for (index, byte) in signature.utf8.prefix(16).enumerated() { key[index] = byte }
                }
            }
            (high, low) = bytes
        }
    }

    /// The part of a token after its last `.` (the whole token if it has none), found on its contiguous bytes: the
    /// generic backward walk of `lastIndex(of:)` over a 220-byte token showed in the profile of every `/v`.
    static func signature(of token: Substring) -> Substring {
        let utf8 = token.utf8
        guard let dot = utf8.withContiguousStorageIfAvailable({ $0.lastIndex(of: UInt8(ascii: ".")) }) else {
            // Not contiguous (never a request's token): the same on a native copy.
            return signature(of: Substring(String(token)))
        }
        return dot.map { token[utf8.index(utf8.startIndex, offsetBy: $0 + 1)...] } ?? token
    }

    private final class Entry {
        let token: String
        let grant: ViewerGrant
        let validUntil: Int64

        init(token: String, grant: ViewerGrant, validUntil: Int64) {
            self.token = token
            self.grant = grant
            self.validUntil = validUntil
        }
    }

    private var entries: [Key: Entry] = [:]
    private let capacity: Int
    private var nextSweep: Int64 = 0
    /// The `ViewerKeys` generation the entries were verified under.
    var generation = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    func grant(for token: Substring, signature: Substring, now: Int64) -> ViewerGrant? {
        let key = Key(signature: signature)
        guard let entry = entries[key] else { return nil }
        guard entry.validUntil > now else {
            entries[key] = nil
            return nil
        }
        return Self.sameBytes(entry.token[...], token) ? entry.grant : nil
    }

    /// Byte equality. `String ==` is Unicode canonical equivalence: a token with U+212A KELVIN SIGN where the
    /// verified one had `K` would compare equal and be served the genuine token's grant.
    static func sameBytes(_ a: Substring, _ b: Substring) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        let compared = a.utf8.withContiguousStorageIfAvailable { left in
            b.utf8.withContiguousStorageIfAvailable { right in
                left.isEmpty || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0
            }
        }
        if let compared, let compared { return compared }
        return a.utf8.elementsEqual(b.utf8)
    }

    /// `token` is the request's copy of the verified token.
    func store(_ grant: ViewerGrant, token: String, validUntil: Int64, now: Int64) {
        let key = Key(signature: Self.signature(of: token[...]))
        if entries.count >= capacity && entries[key] == nil {
            if now >= nextSweep {
                nextSweep = now + 10
                entries = entries.filter { $0.value.validUntil > now }
            }
            if entries.count >= capacity { entries.remove(at: entries.startIndex) }
        }
        entries[key] = Entry(token: token, grant: grant, validUntil: validUntil)
    }

    func removeAll() { entries.removeAll() }
}
