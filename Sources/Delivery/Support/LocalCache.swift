import NIOCore

/// A bounded cache with per-entry expiry, owned by one event loop (no locks: each loop has its own).
///
/// When full, it drops expired entries (at most once a second), then one entry per new one, in table order:
/// cheaper than tracking recency on every hit, and unlike emptying the whole cache it keeps serving about
/// `capacity` ids when more than that are in use.
///
/// Keys carry their string's hash, so probing the table compares integers and reads a stored id's bytes only on
/// a hash match; with a `String` key every probe read another id from the heap. They are `Substring`s, so the edge
/// probes with the id as it lies in the request's URL and allocates nothing per request; a stored key is a whole
/// string of its own (`set`), so it does not keep a request's URL alive.
final class LocalCache<Value> {
    struct Key: Hashable {
        let hash: Int
        let id: Substring

        init(_ id: Substring) {
            self.init(id: id, hash: id.hashValue)
        }

        init(id: Substring, hash: Int) {
            self.hash = hash
            self.id = id
        }

        static func == (lhs: Key, rhs: Key) -> Bool { lhs.hash == rhs.hash && lhs.id == rhs.id }

        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    }

    private var entries: [Key: (value: Value, expires: NIODeadline)] = [:]
    let capacity: Int
    private var nextSweep = NIODeadline.uptimeNanoseconds(0)

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// An expired entry is left in place: the miss that follows overwrites it (deleting first cost a hash-table
    /// shift per expiry on the hot path), and `set` sweeps expired entries when the cache is full.
    func get(_ key: Substring, now: NIODeadline) -> Value? {
        guard let entry = entries[Key(key)], entry.expires > now else { return nil }
        return entry.value
    }

    func set(_ id: String, _ value: Value, expires: NIODeadline) {
        let key = Key(id[...])
        if entries.count >= capacity && entries[key] == nil {
            let now = NIODeadline.now()
            if now >= nextSweep {
                nextSweep = now + .seconds(1)
                entries = entries.filter { $0.value.expires > now }
            }
            if entries.count >= capacity { entries.remove(at: entries.startIndex) }
        }
        entries[key] = (value, expires)
    }

    func remove(_ key: String) { entries[Key(key[...])] = nil }

    var count: Int { entries.count }

    func removeAll() { entries.removeAll() }
}
