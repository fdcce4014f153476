public import NIOCore

/// The durable record of generations (Postgres's `generations` in production), as `GenerationLookup` and
/// `Generations` use it. The writes return what the cache must now say, so the service that calls them can
/// refresh it; no caller outside this module writes a generation.
public protocol GenerationStorage: Sendable {
    func find(_ requestID: String) async throws -> Generation?

    /// The edge's read-through: the few fields `/v` needs, nil when the id is unknown. Completes on `loop`.
    func delivery(_ requestID: String, on loop: any EventLoop) -> EventLoopFuture<DeliveryRecord?>

    /// Records a generation the app submitted (PENDING), or an object already in the bucket (COMPLETED with
    /// `cdnURL`). Never check-then-insert: concurrent registrations of one id make one row.
    func register(
        requestID: String, owner: String?, visibility: Generation.Visibility, objectKey: String?, cdnURL: String?, expiry: Expiry
    ) async throws -> GenerationRegistration

    /// One owner's generations, newest first, starting after `cursor`, optionally of one status.
    func list(owner: String, status: Generation.Status?, limit: Int, after cursor: GenerationCursor?) async throws -> GenerationPage

    // MARK: deletion and retention

    /// Marks the generation DELETED (keeping `fal_url`), revokes its shares and drops its mirror job, in one
    /// transaction. nil when the id is unknown. Deleting again returns the row as it is, its object still named
    /// when the bucket did not confirm the removal, so a second run finishes what the first began.
    func markDeleted(_ requestID: String) async throws -> GenerationDeletion?

    /// Up to `limit` generations whose `expires_at` has passed, each marked as `markDeleted` does; rows another
    /// worker is marking at the same time are skipped, not waited for.
    func markExpiredDeleted(limit: Int) async throws -> [GenerationDeletion]

    /// The bucket confirmed the removal: the row stops naming `objectKey` (and its `cdn_url`).
    func objectRemoved(_ requestID: String, objectKey: String) async throws

    /// DELETED rows still naming an object, deleted over `olderThanSeconds` ago: removals a crash or an unreachable
    /// bucket interrupted. (Shares and caches were handled when the row was marked.)
    func unfinishedDeletions(olderThanSeconds: Int, limit: Int) async throws -> [GenerationDeletion]

    /// Removes up to `limit` DELETED rows deleted over `olderThanDays` days ago whose object is gone; returns how many.
    func purgeDeleted(olderThanDays: Int, limit: Int) async throws -> Int
}
