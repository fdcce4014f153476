public import Logging
public import ServiceLifecycle
import Synchronization
public import ViewerAuth

/// Revoked tokens (`jti`), viewers (`sub`) and videos (takedowns), mirrored in memory for the hot path.
///
/// PostgreSQL holds the list; Redis holds a version number that every write increments. Each instance polls that
/// version every `pollInterval` (one GET) and reloads the list from Postgres when it changes, so a revocation
/// made through any instance is in force on all of them within `pollInterval` plus a query. With Redis down,
/// instances reload from Postgres every `pollInterval` instead; with both down, the last list stays in force.
///
/// Fails closed: until the list has loaded once (Postgres down when the process started), `hasLoaded` is false,
/// `/readyz` answers 503 and the edge answers 503 instead of any redirect, since it cannot tell a revoked token or
/// a taken-down video from a good one.
public final class Revocations: Service, Sendable {
    struct Snapshot: Sendable {
        /// value → until (Unix seconds; `Int64.max` for ever), per kind.
        var tokenIDs: [String: Int64] = [:]
        var subjects: [String: Int64] = [:]
        /// Keyed by `Substring`, so that the edge asks with the id as it lies in the request's URL, without a copy:
        /// any revocation, or a video deleted within `recentDeletionWindow`, makes every request ask.
        var videos: [Substring: Int64] = [:]

        var isEmpty: Bool { tokenIDs.isEmpty && subjects.isEmpty && videos.isEmpty }
    }

    static let versionKey = Array("usher:revocations:version".utf8)

    /// How often each instance checks for changes. Default 250 ms (CONTRACT: in force within 1 s).
    let pollInterval: Duration
    let cache: any KeyValueCache
    let store: any RevocationStorage
    let logger: Logger
    private let snapshot = Mutex(Snapshot())
    /// Lets the hot path skip the lock while nothing is revoked (the usual case).
    private let hasAny = Atomic<Bool>(false)
    private let loaded = Atomic<Bool>(false)
    /// The version seen last (empty: none written yet); nil before the first poll or after a failed reload.
    private let lastVersion = Mutex<[UInt8]?>(nil)
    private let lastReload = Mutex<ContinuousClock.Instant?>(nil)

    public init(
        cache: any KeyValueCache, store: any RevocationStorage, pollInterval: Duration = .milliseconds(250), recentDeletionWindow: Int = 60,
        logger: Logger
    ) {
        self.recentDeletionWindow = recentDeletionWindow
        self.cache = cache
        self.store = store
        self.pollInterval = pollInterval
        self.logger = logger
    }

    // MARK: hot path

    /// Whether the list has been read from Postgres at least once.
    public var hasLoaded: Bool { loaded.load(ordering: .acquiring) }

    /// True when the token's `jti` or `sub` is revoked now.
    public func revokes(_ grant: ViewerGrant, now: Int64) -> Bool {
        guard hasAny.load(ordering: .relaxed), grant.tokenID != nil || grant.subject != nil else { return false }
        return snapshot.withLock { list in
            if let id = grant.tokenID, let until = list.tokenIDs[id], now < until { return true }
            if let subject = grant.subject, let until = list.subjects[subject], now < until { return true }
            return false
        }
    }

    /// True when the video is taken down now.
    public func takesDown(_ requestID: Substring, now: Int64) -> Bool {
        guard hasAny.load(ordering: .relaxed) else { return false }
        return snapshot.withLock { list in list.videos[requestID].map { now < $0 } ?? false }
    }

    public func takesDown(_ requestID: String, now: Int64) -> Bool { takesDown(requestID[...], now: now) }

    // MARK: writers (admin API, CLI)

    public func add(_ kind: Revocation.Kind, value: String, until: String?) async throws -> Revocation {
        let revocation = try await store.add(kind, value: value, until: until)
        await announceChange()
        return revocation
    }

    public func remove(_ kind: Revocation.Kind, value: String) async throws -> Bool {
        let removed = try await store.remove(kind, value: value)
        await announceChange()
        return removed
    }

    /// Bumps the version other instances poll, and reloads here at once. Without Redis the others still reload
    /// from Postgres on their own schedule. Deleting a generation announces too (see `recentDeletionWindow`).
    public func announceChange() async {
        do {
            try await cache.increment(Self.versionKey)
        } catch {
            logger.warning(
                "revocation stored, but Redis could not announce it; instances fall back to polling Postgres", metadata: ["error": "\(error)"])
        }
        try? await reload()
    }

    // MARK: the poller

    /// Generations deleted this recently (seconds) count as taken down. It must outlast the in-process cache
    /// (`Self.deletionWindow(localTTL:)`), so a deletion is in force on every instance within a poll.
    let recentDeletionWindow: Int

    /// A minute, or the in-process cache's lifetime plus ten seconds when that is longer.
    public static func deletionWindow(localTTL: Duration) -> Int {
        max(60, Int(localTTL.components.seconds) + 10)
    }

    /// Loads the list from Postgres.
    public func reload() async throws {
        let active = try await store.active()
        let deleted = try await store.recentDeletions(withinSeconds: recentDeletionWindow)
        var next = Snapshot()
        for revocation in active {
            let until = revocation.untilEpoch ?? Int64.max
            switch revocation.kind {
            case .tokenID: next.tokenIDs[revocation.value] = until
            case .subject: next.subjects[revocation.value] = until
            case .requestID: next.videos[revocation.value[...]] = until
            }
        }
        // After the revocations: a deletion outlasts a takedown's `until`.
        for requestID in deleted { next.videos[requestID[...]] = Int64.max }
        let empty = next.isEmpty
        snapshot.withLock { $0 = next }
        hasAny.store(!empty, ordering: .relaxed)
        loaded.store(true, ordering: .releasing)
    }

    /// One poll: reload when Redis's version moved (or Redis cannot say).
    func poll() async {
        // nil: the cache could not say.
        let version: [UInt8]?
        do {
            version = try await cache.get(Self.versionKey) ?? []
        } catch {
            version = nil
        }
        let changed = lastVersion.withLock { last in
            guard let version else { return true }
            defer { last = version }
            return last != version
        }
        guard changed else { return }
        // Without Redis every poll would reload: once a second is enough to stay within the 1 s promise.
        let now = ContinuousClock.now
        let due = lastReload.withLock { last in
            if version == nil, let last, now - last < .seconds(1) { return false }
            last = now
            return true
        }
        guard due else { return }
        do {
            try await reload()
        } catch {
            // Keep the list in force; forget the version so the next poll tries again.
            lastVersion.withLock { $0 = nil }
        }
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.poll()
                try await Task.sleep(for: self.pollInterval)
            }
        }
    }
}
