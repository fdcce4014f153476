import Synchronization
public import ViewerAuth

/// The live verifier, swappable at run time (SIGHUP re-reads the key file) without a restart.
///
/// `generation` changes with every swap, so per-loop token caches drop grants made under old keys.
public final class ViewerKeys: Sendable {
    private let current: Mutex<(verifier: ViewerTokenVerifier, generation: Int)>

    public init(_ verifier: ViewerTokenVerifier) {
        current = Mutex((verifier, 0))
    }

    public var snapshot: (verifier: ViewerTokenVerifier, generation: Int) { current.withLock { $0 } }

    public func replace(with verifier: ViewerTokenVerifier) {
        current.withLock { $0 = (verifier, $0.generation + 1) }
    }
}
