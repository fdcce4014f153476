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

/// The mirror's transitions of a generation (the fal webhook's intake, a job's end), stored with the job queue
/// (`mirror_jobs`) in one transaction each.
public protocol MirrorTransitions: Sendable {
    /// fal's OK webhook: stores `fal_url`, sets MIRRORING and queues one job, whatever the retries.
    func acceptVideo(requestID: String, sourceURL: String, contentType: String?, fileSize: Int64?) async throws -> WebhookOutcome

    /// fal's ERROR webhook, or OK without a usable video: FAILED with the reason, unless already past PENDING.
    func rejectVideo(requestID: String, sourceURL: String?, reason: String) async throws -> WebhookOutcome

    /// COMPLETED with its object, and the job removed, if `worker` still holds the job's lease. Returns the new
    /// record, nil when the lease was lost (someone else finishes it).
    func complete(
        _ job: MirrorJob, worker: String, objectKey: String, cdnURL: String, contentType: String, sizeBytes: Int64
    ) async throws -> DeliveryRecord?

    /// FAILED with `error`, and the job removed, if `worker` still holds the lease; nil otherwise.
    func fail(_ job: MirrorJob, worker: String, error: String) async throws -> DeliveryRecord?
}
