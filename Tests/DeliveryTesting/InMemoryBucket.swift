public import Delivery
import Synchronization

/// The bucket as a set of keys, for deletion tests without S3; `isAvailable` false refuses every removal.
public final class InMemoryBucket: ObjectStorage {
    private let keys = Mutex<Set<String>>([])
    private let available = Atomic<Bool>(true)

    public init() {}

    public var isAvailable: Bool {
        get { available.load(ordering: .relaxed) }
        set { available.store(newValue, ordering: .relaxed) }
    }

    public func put(_ key: String) { _ = keys.withLock { $0.insert(key) } }

    public func contains(_ key: String) -> Bool { keys.withLock { $0.contains(key) } }

    public func removeObject(key: String) async throws {
        guard isAvailable else { throw InMemoryStore.Unavailable() }
        _ = keys.withLock { $0.remove(key) }
    }
}
