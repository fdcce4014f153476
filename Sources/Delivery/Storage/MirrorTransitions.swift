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
