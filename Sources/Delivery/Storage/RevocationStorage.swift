/// The durable list of revocations (Postgres's `revocations` in production), as `Revocations` uses it.
public protocol RevocationStorage: Sendable {
    /// Revoking again replaces the `until` (RFC 3339 text; a store refuses a bad one with an error).
    func add(_ kind: Revocation.Kind, value: String, until: String?) async throws -> Revocation

    /// false when nothing was revoked under that kind and value.
    func remove(_ kind: Revocation.Kind, value: String) async throws -> Bool

    /// The revocations in force now.
    func active() async throws -> [Revocation]

    /// Generations deleted in the last `withinSeconds`: every instance treats them as taken down, so a deletion
    /// is in force everywhere within a poll, before in-process caches that still hold the old record expire.
    func recentDeletions(withinSeconds: Int) async throws -> [String]
}
