/// Every write to a generation, each followed by the cache update it needs: Redis gets the row's new record (or
/// forgets the id) and this instance's loops drop their copies; other instances' copies last at most the
/// in-process TTL. The admin API, the fal webhook, the mirror worker and `usher import` write through here, so
/// none of them has to remember to refresh a cache — a forgotten refresh was a stale video.
public struct Generations: Sendable {
    public let store: any GenerationStorage
    public let jobs: any MirrorTransitions
    public let lookup: GenerationLookup

    public init(store: any GenerationStorage, jobs: any MirrorTransitions, lookup: GenerationLookup) {
        self.store = store
        self.jobs = jobs
        self.lookup = lookup
    }

    /// Records a generation the app submitted (PENDING), or an object already in the bucket (COMPLETED). A new row
    /// replaces whatever was cached for the id ("unknown" included).
    public func register(
        requestID: String, owner: String?, visibility: Generation.Visibility, objectKey: String?, cdnURL: String?
    ) async throws -> GenerationRegistration {
        let outcome = try await store.register(requestID: requestID, owner: owner, visibility: visibility, objectKey: objectKey, cdnURL: cdnURL)
        if case .created(let generation) = outcome { await lookup.refresh(generation.requestID, record: generation.delivery) }
        return outcome
    }

    /// fal's OK webhook: stores `fal_url`, sets MIRRORING and queues a job (once, whatever the retries).
    public func acceptVideo(requestID: String, sourceURL: String, contentType: String?, fileSize: Int64?) async throws -> WebhookOutcome {
        let outcome = try await jobs.acceptVideo(requestID: requestID, sourceURL: sourceURL, contentType: contentType, fileSize: fileSize)
        await refreshAfterWebhook(requestID, outcome)
        return outcome
    }

    /// fal's ERROR webhook, or OK without a usable video: FAILED with the reason.
    public func rejectVideo(requestID: String, sourceURL: String?, reason: String) async throws -> WebhookOutcome {
        let outcome = try await jobs.rejectVideo(requestID: requestID, sourceURL: sourceURL, reason: reason)
        await refreshAfterWebhook(requestID, outcome)
        return outcome
    }

    /// The gateway may hold "unknown" or "pending" for this id: write what the row says now.
    private func refreshAfterWebhook(_ requestID: String, _ outcome: WebhookOutcome) async {
        guard outcome != .unchanged else { return }
        await reloadCache(requestID)
    }

    /// After a change made outside Usher (an UPDATE by hand, a restore): the caches take what the row says now.
    /// A store that cannot answer makes the shared cache forget the id, so readers go to the store.
    public func reloadCache(_ requestID: String) async {
        let record = try? await store.find(requestID)?.delivery
        await lookup.refresh(requestID, record: record)
    }

    /// The mirror finished: COMPLETED with its object, in one transaction with the job's removal (lease holder only).
    public func complete(
        _ job: MirrorJob, worker: String, objectKey: String, cdnURL: String, contentType: String, sizeBytes: Int64
    ) async throws {
        let record = try await jobs.complete(
            job, worker: worker, objectKey: objectKey, cdnURL: cdnURL, contentType: contentType, sizeBytes: sizeBytes)
        await lookup.refresh(job.requestID, record: record)
    }

    /// A permanent failure, or the last attempt: FAILED with `error` (lease holder only).
    public func fail(_ job: MirrorJob, worker: String, error: String) async throws {
        let record = try await jobs.fail(job, worker: worker, error: error)
        await lookup.refresh(job.requestID, record: record)
    }
}
