public import Delivery

/// Every SQL statement of the mirror: webhook intake, the job queue and completion.
public struct MirrorJobStore: MirrorTransitions {
    public let client: PQClient

    public init(client: PQClient) { self.client = client }

    /// An OK webhook: create the row if fal reports a request never registered (owner null, private), move a
    /// PENDING (or FAILED without an object) row to MIRRORING, and queue one job. Atomic, so 20 concurrent
    /// deliveries queue exactly one job.
    static let acceptVideo = """
        WITH generation AS (
            INSERT INTO generations (request_id, visibility, status, fal_url, content_type, attempts)
            VALUES ($1, 'private', 'MIRRORING', $2, $3, 0)
            ON CONFLICT (request_id) DO UPDATE
                SET status = 'MIRRORING', fal_url = EXCLUDED.fal_url, content_type = EXCLUDED.content_type,
                    last_error = NULL, attempts = 0, updated_at = now()
                WHERE generations.status = 'PENDING'
            RETURNING request_id
        )
        INSERT INTO mirror_jobs (request_id, source_url, content_type, file_size)
        SELECT request_id, $2, $3, $4::bigint FROM generation
        ON CONFLICT (request_id) DO NOTHING
        RETURNING request_id
        """

    /// An ERROR webhook (or OK without a usable video): FAILED with the reason, unless already past that point.
    static let rejectVideo = """
        INSERT INTO generations (request_id, visibility, status, fal_url, last_error)
        VALUES ($1, 'private', 'FAILED', $2, $3)
        ON CONFLICT (request_id) DO UPDATE
            SET status = 'FAILED', fal_url = COALESCE(EXCLUDED.fal_url, generations.fal_url), last_error = EXCLUDED.last_error,
                updated_at = now()
            WHERE generations.status = 'PENDING'
        RETURNING request_id
        """

    /// The oldest due job nobody holds (or whose holder's lease ran out), leased to `worker`.
    static let claim = """
        UPDATE mirror_jobs
        SET locked_until = now() + make_interval(secs => $1::int), locked_by = $2, attempts = attempts + 1, updated_at = now()
        WHERE request_id = (
            SELECT request_id FROM mirror_jobs
            WHERE run_after <= now() AND (locked_until IS NULL OR locked_until < now())
            ORDER BY run_after
            LIMIT 1
            FOR UPDATE SKIP LOCKED)
        RETURNING request_id, source_url, content_type, file_size, attempts
        """

    /// One generation's job, for `usher mirror`, unless another worker holds it.
    static let claimOne = """
        UPDATE mirror_jobs
        SET locked_until = now() + make_interval(secs => $1::int), locked_by = $2, attempts = attempts + 1, updated_at = now()
        WHERE request_id = $3 AND (locked_until IS NULL OR locked_until < now())
        RETURNING request_id, source_url, content_type, file_size, attempts
        """

    static let renew = """
        UPDATE mirror_jobs SET locked_until = now() + make_interval(secs => $3::int), updated_at = now()
        WHERE request_id = $1 AND locked_by = $2
        """

    /// Only the lease holder completes: a worker that lost its lease leaves the job to the one that took it.
    static let complete = """
        UPDATE generations
        SET status = 'COMPLETED', object_key = $2, cdn_url = $3, content_type = $4, size_bytes = $5::bigint,
            mirrored_at = now(), attempts = $6::int, last_error = NULL, updated_at = now()
        WHERE request_id = $1 AND status <> 'DELETED'
          AND EXISTS (SELECT 1 FROM mirror_jobs WHERE request_id = $1 AND locked_by = $7)
        RETURNING \(DeliveryRecord.columns)
        """

    static let deleteJob = "DELETE FROM mirror_jobs WHERE request_id = $1 AND locked_by = $2"

    static let retryLater = """
        UPDATE mirror_jobs
        SET locked_until = NULL, locked_by = NULL, run_after = now() + make_interval(secs => $3::double precision),
            last_error = $4, updated_at = now()
        WHERE request_id = $1 AND locked_by = $2
        """

    /// Only the lease holder records its attempt: a worker that lost its lease must not write its error onto a row
    /// another worker has since completed.
    static let recordAttempt = """
        UPDATE generations SET attempts = $2::int, last_error = $3, updated_at = now()
        WHERE request_id = $1 AND status <> 'COMPLETED'
          AND EXISTS (SELECT 1 FROM mirror_jobs WHERE request_id = $1 AND locked_by = $4)
        """

    static let failGeneration = """
        UPDATE generations SET status = 'FAILED', attempts = $2::int, last_error = $3, updated_at = now()
        WHERE request_id = $1 AND status NOT IN ('COMPLETED', 'DELETED')
          AND EXISTS (SELECT 1 FROM mirror_jobs WHERE request_id = $1 AND locked_by = $4)
        RETURNING \(DeliveryRecord.columns)
        """

    /// Hands a job back untouched (graceful shutdown): no attempt is spent.
    static let release = """
        UPDATE mirror_jobs SET locked_until = NULL, locked_by = NULL, attempts = GREATEST(attempts - 1, 0), updated_at = now()
        WHERE request_id = $1 AND locked_by = $2
        """

    /// The queue by state, for `/metrics`: leased now, due and waiting to be claimed, and backing off until `run_after`;
    /// and how long the oldest queued job has been due, the queue's age, which a backlog count alone does not show (a
    /// few stuck jobs, or workers gone). The table holds only unfinished jobs, so this stays cheap.
    static let countByState = """
        SELECT count(*) FILTER (WHERE locked_until > now()),
               count(*) FILTER (WHERE (locked_until IS NULL OR locked_until <= now()) AND run_after <= now()),
               count(*) FILTER (WHERE (locked_until IS NULL OR locked_until <= now()) AND run_after > now()),
               coalesce(extract(epoch FROM now() - min(run_after)
                   FILTER (WHERE (locked_until IS NULL OR locked_until <= now()) AND run_after <= now())), 0)::float8
        FROM mirror_jobs
        """

    /// Every PENDING or FAILED generation that has a `fal_url` gets a job (for `usher backfill`).
    static let backfill = """
        WITH moved AS (
            UPDATE generations SET status = 'MIRRORING', last_error = NULL, attempts = 0, updated_at = now()
            WHERE status IN ('PENDING', 'FAILED') AND fal_url IS NOT NULL
            RETURNING request_id, fal_url, content_type
        )
        INSERT INTO mirror_jobs (request_id, source_url, content_type)
        SELECT request_id, fal_url, content_type FROM moved
        ON CONFLICT (request_id) DO UPDATE SET run_after = now(), attempts = 0
            WHERE mirror_jobs.locked_until IS NULL OR mirror_jobs.locked_until < now()
        RETURNING request_id
        """

    static let enqueueOne = """
        INSERT INTO mirror_jobs (request_id, source_url, content_type)
        SELECT request_id, fal_url, content_type FROM generations WHERE request_id = $1 AND fal_url IS NOT NULL
        ON CONFLICT (request_id) DO UPDATE SET run_after = now()
            WHERE mirror_jobs.locked_until IS NULL OR mirror_jobs.locked_until < now()
        RETURNING request_id
        """

    public func acceptVideo(requestID: String, sourceURL: String, contentType: String?, fileSize: Int64?) async throws -> WebhookOutcome {
        try await client.withTransaction { connection in
            let rows = try connection.query(Self.acceptVideo, [requestID, sourceURL, contentType, fileSize.map(String.init)])
            return rows.isEmpty ? .unchanged : .enqueued
        }
    }

    public func rejectVideo(requestID: String, sourceURL: String?, reason: String) async throws -> WebhookOutcome {
        let rows = try await client.query(Self.rejectVideo, [requestID, sourceURL, reason])
        return rows.isEmpty ? .unchanged : .failed
    }

    public func claim(worker: String, leaseSeconds: Int) async throws -> MirrorJob? {
        try await client.query(Self.claim, [String(leaseSeconds), worker]).rows.first.map(Self.job)
    }

    public func claim(requestID: String, worker: String, leaseSeconds: Int) async throws -> MirrorJob? {
        try await client.query(Self.claimOne, [String(leaseSeconds), worker, requestID]).rows.first.map(Self.job)
    }

    static func job(_ row: [String?]) -> MirrorJob {
        MirrorJob(
            requestID: row[0] ?? "", sourceURL: row[1] ?? "", contentType: row[2], fileSize: row[3].flatMap { Int64($0) },
            attempts: row[4].flatMap { Int($0) } ?? 1)
    }

    /// False when the lease was lost (another worker took the job).
    public func renew(_ job: MirrorJob, worker: String, leaseSeconds: Int) async throws -> Bool {
        try await client.query(Self.renew, [job.requestID, worker, String(leaseSeconds)]).affected == 1
    }

    /// In one transaction: the generation becomes COMPLETED with its object, and the job is gone.
    public func complete(
        _ job: MirrorJob, worker: String, objectKey: String, cdnURL: String, contentType: String, sizeBytes: Int64
    ) async throws -> DeliveryRecord? {
        try await client.withTransaction { connection in
            let rows = try connection.query(
                Self.complete, [job.requestID, objectKey, cdnURL, contentType, String(sizeBytes), String(job.attempts), worker])
            try connection.query(Self.deleteJob, [job.requestID, worker])
            return rows.rows.first.map { DeliveryRecord(row: $0[...]) }
        }
    }

    /// A transient failure: try again after `delay` seconds.
    public func retryLater(_ job: MirrorJob, worker: String, delay: Double, error: String) async throws {
        try await client.withTransaction { connection in
            // The attempt first: `retryLater` gives the lease up, which `recordAttempt` checks.
            try connection.query(Self.recordAttempt, [job.requestID, String(job.attempts), error, worker])
            try connection.query(Self.retryLater, [job.requestID, worker, String(delay), error])
        }
    }

    /// A permanent failure, or the last attempt: FAILED with `error`, and the job is gone.
    public func fail(_ job: MirrorJob, worker: String, error: String) async throws -> DeliveryRecord? {
        try await client.withTransaction { connection in
            let rows = try connection.query(Self.failGeneration, [job.requestID, String(job.attempts), error, worker])
            try connection.query(Self.deleteJob, [job.requestID, worker])
            return rows.rows.first.map { DeliveryRecord(row: $0[...]) }
        }
    }

    public func release(_ job: MirrorJob, worker: String) async throws {
        _ = try await client.query(Self.release, [job.requestID, worker])
    }

    /// Jobs by state, `running` (leased), `queued` (due) and `waiting` (retrying later), and the seconds the oldest
    /// queued job has been due (0 when none is).
    public func countByState() async throws -> (counts: [(state: String, count: Int)], oldestQueuedSeconds: Double) {
        let row = try await client.query(Self.countByState).rows.first ?? []
        let counts = zip(["running", "queued", "waiting"], row.prefix(3)).map { ($0, $1.flatMap { Int($0) } ?? 0) }
        return (counts, row.count > 3 ? row[3].flatMap { Double($0) } ?? 0 : 0)
    }

    /// Queues every PENDING or FAILED generation with a `fal_url`; returns their ids.
    public func backfill() async throws -> [String] {
        try await client.withTransaction { try $0.query(Self.backfill).rows.compactMap { $0[0] } }
    }

    /// Queues (or makes due now) the job of one generation; false if it has no `fal_url`.
    public func enqueue(requestID: String) async throws -> Bool {
        try await !client.query(Self.enqueueOne, [requestID]).isEmpty
    }

}
