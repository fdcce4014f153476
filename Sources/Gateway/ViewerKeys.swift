import Synchronization
public import ViewerAuth

/// The live verifier, swappable at run time (SIGHUP re-reads the key file) without a restart.
///
/// `generation` changes with every swap, so per-loop token caches drop grants made under old keys.
public final class ViewerKeys: Sendable {
    private let current: Mutex<(verifier: ViewerTokenVerifier, generation: Int)>
    /// `current`'s generation, readable without the lock: a token found in a loop's cache needs only this, and the
    /// lock (shared by every loop) and the verifier's copy were paid on every `/v` before.
    private let published = Atomic<Int>(0)

    public init(_ verifier: ViewerTokenVerifier) {
        current = Mutex((verifier, 0))
    }

    public var snapshot: (verifier: ViewerTokenVerifier, generation: Int) { current.withLock { $0 } }

    /// The generation of the keys in use. It is published after the keys: a loop that reads it will find those keys
    /// (or newer) in `snapshot`.
    public var generation: Int { published.load(ordering: .acquiring) }

    public func replace(with verifier: ViewerTokenVerifier) {
        current.withLock {
            $0 = (verifier, $0.generation + 1)
            published.store($0.generation, ordering: .releasing)
        }
    }
}
