import NIOCore

/// A bounded cache with per-entry expiry, owned by one event loop (no locks: each loop has its own).
///
/// When full, it first drops expired entries, then (if still full) empties itself: with a 2 s TTL a wholesale
/// reset costs one round of Redis lookups, which is cheaper than tracking recency on every hit.
final class LocalCache<Value> {
    private var entries: [String: (value: Value, expires: NIODeadline)] = [:]
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// An expired entry is left in place: the miss that follows overwrites it (deleting first cost a hash-table
    /// shift per expiry on the hot path), and `set` sweeps expired entries when the cache is full.
    func get(_ key: String, now: NIODeadline) -> Value? {
        guard let entry = entries[key], entry.expires > now else { return nil }
        return entry.value
    }

    func set(_ key: String, _ value: Value, expires: NIODeadline) {
        if entries.count >= capacity && entries[key] == nil {
            let now = NIODeadline.now()
            entries = entries.filter { $0.value.expires > now }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        }
        entries[key] = (value, expires)
    }

    func remove(_ key: String) { entries[key] = nil }

    func removeAll() { entries.removeAll() }
}
