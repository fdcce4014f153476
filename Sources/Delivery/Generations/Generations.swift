/// Every write to a generation, each followed by the cache update it needs: Redis gets the row's new record (or
/// forgets the id) and this instance's loops drop their copies; other instances' copies last at most the
/// in-process TTL (deletions: one revocation poll). The admin API, the fal webhook, the mirror worker, retention
/// and `usher import`/`usher delete` write through here, so no caller can skip the refresh that keeps a video
/// from being served stale.
public struct Generations: Sendable {
    public struct Configuration: Sendable {
        /// `USHER_RETENTION_DAYS`: the life of a generation registered without `expires_at`; 0 keeps it for ever.
        public var retentionDays: Int = 0
        /// How long a DELETED row is kept (with `fal_url`, for support) before it is purged. Default 30 days.
        public var purgeAfterDays: Int = 30
        /// Rows one retention pass marks, removes or purges at most, per kind. Default 100.
        public var batchSize: Int = 100
        /// A deletion whose bucket removal has not been confirmed after this long is redone by the sweep
        /// (a crash, the bucket down). Default 60 s.
        public var unfinishedAfterSeconds: Int = 60

        public init() {}
    }

    /// Why a deletion is not finished. Codes are stable labels.
    public struct DeletionFailure: Error, Hashable, Sendable, CustomStringConvertible {
        public struct Code: Hashable, Sendable, CustomStringConvertible {
            fileprivate let name: String
            public var description: String { name }
            /// Viewers are refused already (row DELETED, caches updated), but the bucket did not confirm the
            /// object's removal: run the deletion again (the retention sweep also does).
            public static let objectNotRemoved = Code(name: "objectNotRemoved")
        }

        public let code: Code
        public let message: String
        public var description: String { "Generations.DeletionFailure.\(code): \(message)" }
    }

    public let configuration: Configuration
    public let store: any GenerationStorage
    public let jobs: any MirrorTransitions
    public let lookup: GenerationLookup
    let shares: ShareLinks
    let revocations: Revocations
    /// nil where the bucket is not configured (a CLI run without `S3_*`): deletions then leave the object to the
    /// worker's sweep.
    let objects: (any ObjectStorage)?

    /// Whether deletions here remove the object themselves (else the worker's sweep does, a minute later).
    public var removesObjects: Bool { objects != nil }

    public init(
        configuration: Configuration = .init(), store: any GenerationStorage, jobs: any MirrorTransitions, lookup: GenerationLookup,
        shares: ShareLinks, revocations: Revocations, objects: (any ObjectStorage)?
    ) {
        self.configuration = configuration
        self.store = store
        self.jobs = jobs
        self.lookup = lookup
        self.shares = shares
        self.revocations = revocations
        self.objects = objects
    }

    /// Records a generation the app submitted (PENDING), or an object already in the bucket (COMPLETED). A new row
    /// replaces whatever was cached for the id ("unknown" included). Without `expiresAt`, `retentionDays` decides.
    public func register(
        requestID: String, owner: String?, visibility: Generation.Visibility, objectKey: String?, cdnURL: String?, expiresAt: String? = nil
    ) async throws -> GenerationRegistration {
        let expiry: Expiry = expiresAt.map { .at($0) } ?? (configuration.retentionDays > 0 ? .afterDays(configuration.retentionDays) : .never)
        let outcome = try await store.register(
            requestID: requestID, owner: owner, visibility: visibility, objectKey: objectKey, cdnURL: cdnURL, expiry: expiry)
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
    /// false when the lease was lost (the job was retaken, or the generation deleted): nothing changed.
    @discardableResult
    public func complete(
        _ job: MirrorJob, worker: String, objectKey: String, cdnURL: String, contentType: String, sizeBytes: Int64
    ) async throws -> Bool {
        guard
            let record = try await jobs.complete(
                job, worker: worker, objectKey: objectKey, cdnURL: cdnURL, contentType: contentType, sizeBytes: sizeBytes)
        else { return false }
        await lookup.refresh(job.requestID, record: record)
        return true
    }

    /// A permanent failure, or the last attempt: FAILED with `error` (lease holder only).
    public func fail(_ job: MirrorJob, worker: String, error: String) async throws {
        guard let record = try await jobs.fail(job, worker: worker, error: error) else { return }
        await lookup.refresh(job.requestID, record: record)
    }

    /// One owner's library, newest first.
    public func list(owner: String, status: Generation.Status?, limit: Int, after cursor: GenerationCursor?) async throws -> GenerationPage {
        try await store.list(owner: owner, status: status, limit: limit, after: cursor)
    }

    // MARK: deletion and retention

    /// Deletes a generation everywhere: the row becomes DELETED (its shares revoked, its mirror job dropped), every
    /// cache stops serving it (this instance at once, the others within a revocation poll), then the object and
    /// any unfinished upload of it leave the bucket. false when the id is unknown. Running it again finishes an
    /// interrupted deletion and otherwise changes nothing.
    public func delete(_ requestID: String) async throws -> Bool {
        guard let deletion = try await store.markDeleted(requestID) else { return false }
        await stopServing([deletion])
        try await removeObject(deletion)
        return true
    }

    /// One retention pass: deletes expired generations, finishes interrupted deletions, purges old DELETED rows.
    /// Safe to run on several workers at once. Returns what it did.
    public func sweep() async throws -> SweepReport {
        var report = SweepReport()
        let expired = try await store.markExpiredDeleted(limit: configuration.batchSize)
        await stopServing(expired)
        let unfinished = try await store.unfinishedDeletions(olderThanSeconds: configuration.unfinishedAfterSeconds, limit: configuration.batchSize)
        for deletion in expired + unfinished {
            do {
                try await removeObject(deletion)
                if deletion.objectKey != nil { report.objectsRemoved += 1 }
            } catch {
                report.objectsPending += 1
            }
        }
        report.expired = expired.count
        report.purged = try await store.purgeDeleted(olderThanDays: configuration.purgeAfterDays, limit: configuration.batchSize)
        return report
    }

    public struct SweepReport: Sendable, Equatable {
        /// Generations past `expires_at` marked DELETED.
        public var expired = 0
        /// Objects removed from the bucket (expired now, or interrupted before).
        public var objectsRemoved = 0
        /// Objects the bucket did not confirm removing; the next pass tries again.
        public var objectsPending = 0
        /// DELETED rows purged.
        public var purged = 0

        public init() {}
    }

    /// The caches forget the records, the shares' cached records become tombstones, and the other instances are
    /// told to reload (they treat recent deletions as takedowns at once).
    private func stopServing(_ deletions: [GenerationDeletion]) async {
        guard !deletions.isEmpty else { return }
        for deletion in deletions {
            await lookup.refresh(deletion.requestID, record: deletion.record)
            await shares.tombstone(deletion.revokedShares)
        }
        await revocations.announceChange()
    }

    /// The row keeps naming the object until the bucket confirms, so whatever fails here is finished by the sweep.
    private func removeObject(_ deletion: GenerationDeletion) async throws {
        guard let key = deletion.objectKey, let objects else { return }
        do {
            try await objects.removeObject(key: key)
        } catch {
            throw DeletionFailure(code: .objectNotRemoved, message: "\(error)")
        }
        try await store.objectRemoved(deletion.requestID, objectKey: key)
    }
}
