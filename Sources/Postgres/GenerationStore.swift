public import Delivery
public import NIOCore

/// Every SQL statement about generations, in one place.
public struct GenerationStore: GenerationStorage {
    public let client: PQClient

    public init(client: PQClient) { self.client = client }

    /// Timestamps leave the database as RFC 3339 UTC text, so no date parsing happens in Swift.
    static func rfc3339(_ column: String) -> String {
        #"to_char(\#(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS \#(column)"#
    }

    static let columns = """
        request_id, owner, visibility, status, fal_url, cdn_url, object_key, content_type, size_bytes, \
        \(rfc3339("mirrored_at")), attempts, last_error, \(rfc3339("created_at")), \(rfc3339("updated_at")), \
        \(rfc3339("expires_at")), \(rfc3339("deleted_at"))
        """

    static let selectByID = "SELECT \(columns) FROM generations WHERE request_id = $1"

    static let selectDelivery = "SELECT \(DeliveryRecord.columns) FROM generations WHERE request_id = $1"

    /// Creates the row unless the id exists (then returns nothing): never check-then-insert.
    /// `$6`: `expires_at` as given (RFC 3339, parsed by PostgreSQL); `$7`: days of retention when none was given.
    static let insertRegistration = """
        INSERT INTO generations (request_id, owner, visibility, status, object_key, cdn_url, mirrored_at, expires_at)
        VALUES ($1, $2, $3,
                CASE WHEN $4::text IS NULL THEN 'PENDING' ELSE 'COMPLETED' END,
                $4, $5,
                CASE WHEN $4::text IS NULL THEN NULL ELSE now() END,
                COALESCE($6::timestamptz, now() + make_interval(days => $7::int)))
        ON CONFLICT (request_id) DO NOTHING
        RETURNING \(columns)
        """

    /// A row fal's webhook created before the app registered it (owner unknown) takes the app's owner and
    /// visibility; a row that already has an owner is never changed here.
    static let claimOwnerless = """
        UPDATE generations SET owner = $2, visibility = $3, updated_at = now()
        WHERE request_id = $1 AND owner IS NULL AND status <> 'DELETED'
        RETURNING \(columns)
        """

    public func find(_ requestID: String) async throws -> Generation? {
        try await client.query(Self.selectByID, [requestID]).records.first.map(Self.decode)
    }

    /// The gateway's read-through, completing on `eventLoop`.
    public func delivery(_ requestID: String, on eventLoop: any EventLoop) -> EventLoopFuture<DeliveryRecord?> {
        client.withConnection(on: eventLoop) { connection in
            guard let row = try connection.query(Self.selectDelivery, [requestID]).rows.first else { return nil }
            return DeliveryRecord(row: row[...])
        }
    }

    /// Records a generation the app submitted (PENDING), or an object already in the bucket (COMPLETED).
    public func register(
        requestID: String, owner: String?, visibility: Generation.Visibility, objectKey: String?, cdnURL: String?, expiry: Expiry
    ) async throws -> GenerationRegistration {
        try await client.withConnection { connection in
            let (expiresAt, retentionDays): (String?, String?) =
                switch expiry {
                case .never: (nil, nil)
                case .at(let time): (time, nil)
                case .afterDays(let days): (nil, String(days))
                }
            let inserted = try connection.query(
                Self.insertRegistration,
                [requestID, owner, visibility.rawValue, objectKey, objectKey == nil ? nil : cdnURL, expiresAt, retentionDays])
            if let record = inserted.records.first { return .created(Self.decode(record)) }
            if owner != nil, objectKey == nil,
                let claimed = try connection.query(Self.claimOwnerless, [requestID, owner, visibility.rawValue]).records.first
            {
                return .created(Self.decode(claimed))
            }
            guard let existing = try connection.query(Self.selectByID, [requestID]).records.first.map(Self.decode) else {
                // Deleted between the two statements: report it as a conflict rather than guess.
                throw PQError(.query, "generation \(requestID) vanished during registration")
            }
            let same =
                existing.owner == owner && existing.visibility == visibility
                && (objectKey == nil || (existing.objectKey == objectKey && existing.status == .completed))
            return same ? .unchanged(existing) : .conflict(existing)
        }
    }

    static func decode(_ record: PQRecord) -> Generation {
        Generation(
            requestID: record["request_id"] ?? "",
            owner: record["owner"],
            visibility: Generation.Visibility(rawValue: record["visibility"] ?? "") ?? .private,
            status: Generation.Status(rawValue: record["status"] ?? "") ?? .failed,
            falURL: record["fal_url"],
            cdnURL: record["cdn_url"],
            objectKey: record["object_key"],
            contentType: record["content_type"],
            sizeBytes: record["size_bytes"].flatMap { Int64($0) },
            mirroredAt: record["mirrored_at"],
            attempts: record["attempts"].flatMap { Int($0) } ?? 0,
            lastError: record["last_error"],
            createdAt: record["created_at"] ?? "",
            updatedAt: record["updated_at"] ?? "",
            expiresAt: record["expires_at"],
            deletedAt: record["deleted_at"])
    }

    // MARK: listing

    /// Newest first; the index `generations_owner_created` serves the order and the keyset condition. The ORDER
    /// BY names the table's columns outright: a bare `created_at` there would sort by the select list's RFC 3339
    /// text (whole seconds), which disagrees with the keyset condition on the microsecond column.
    static let list = """
        SELECT \(columns), to_char(g.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
        FROM generations g
        WHERE g.owner = $1 AND ($2::text IS NULL OR g.status = $2)
          AND ($3::timestamptz IS NULL OR (g.created_at, g.request_id) < ($3::timestamptz, $4::text))
        ORDER BY g.created_at DESC, g.request_id DESC
        LIMIT $5::int
        """

    public func list(owner: String, status: Generation.Status?, limit: Int, after cursor: GenerationCursor?) async throws -> GenerationPage {
        // One row more than asked says whether another page follows.
        let records = try await client.query(
            Self.list, [owner, status?.rawValue, cursor?.createdAt, cursor?.requestID, String(limit + 1)]
        ).records
        let page = records.prefix(limit)
        let next =
            records.count > limit ? page.last.map { GenerationCursor(createdAt: $0["cursor_at"] ?? "", requestID: $0["request_id"] ?? "") } : nil
        return GenerationPage(items: page.map(Self.decode), next: next)
    }

    // MARK: deletion and retention

    /// Keeps `deleted_at` of the first deletion; `fal_url` and `object_key` stay (the object is removed next).
    static let markDeleted = """
        UPDATE generations SET status = 'DELETED', deleted_at = COALESCE(deleted_at, now()), updated_at = now()
        WHERE request_id = $1
        RETURNING request_id, \(DeliveryRecord.columns)
        """

    /// Expired rows nobody else is marking, oldest expiry first.
    static let markExpired = """
        WITH due AS (
            SELECT request_id FROM generations
            WHERE expires_at <= now() AND status <> 'DELETED'
            ORDER BY expires_at
            LIMIT $1::int
            FOR UPDATE SKIP LOCKED)
        UPDATE generations g SET status = 'DELETED', deleted_at = now(), updated_at = now()
        FROM due WHERE g.request_id = due.request_id
        RETURNING g.request_id, \(DeliveryRecord.columns)
        """

    /// `$1`: a text array of request ids.
    static let revokeShares = """
        UPDATE shares SET revoked_at = COALESCE(revoked_at, now()) WHERE request_id = ANY($1::text[]) RETURNING code, request_id, max_uses
        """

    static let dropJobs = "DELETE FROM mirror_jobs WHERE request_id = ANY($1::text[])"

    static let objectRemoved = """
        UPDATE generations SET object_key = NULL, cdn_url = NULL, updated_at = now()
        WHERE request_id = $1 AND status = 'DELETED' AND object_key = $2
        """

    static let unfinished = """
        SELECT request_id, \(DeliveryRecord.columns) FROM generations
        WHERE status = 'DELETED' AND object_key IS NOT NULL AND deleted_at < now() - make_interval(secs => $1::int)
        ORDER BY deleted_at
        LIMIT $2::int
        """

    /// Another generation still served from the same object (two registrations of one `object_key`).
    static let objectShared = """
        SELECT 1 FROM generations WHERE object_key = $1 AND request_id <> $2 AND status <> 'DELETED' LIMIT 1
        """

    /// Served by the partial index `generations_deleted`.
    static let recentDeletions = """
        SELECT request_id FROM generations WHERE status = 'DELETED' AND deleted_at > now() - make_interval(secs => $1::int)
        """

    /// Shares and jobs go with the row (ON DELETE CASCADE).
    static let purge = """
        DELETE FROM generations WHERE request_id IN (
            SELECT request_id FROM generations
            WHERE status = 'DELETED' AND object_key IS NULL AND deleted_at < now() - make_interval(days => $1::int)
            LIMIT $2::int)
        """

    public func markDeleted(_ requestID: String) async throws -> GenerationDeletion? {
        try await client.withTransaction { connection in
            try Self.mark(connection.query(Self.markDeleted, [requestID]), on: connection).first
        }
    }

    public func markExpiredDeleted(limit: Int) async throws -> [GenerationDeletion] {
        try await client.withTransaction { connection in
            try Self.mark(connection.query(Self.markExpired, [String(limit)]), on: connection)
        }
    }

    /// The rows just marked DELETED, with their shares revoked and their jobs dropped in the same transaction.
    private static func mark(_ marked: PQRows, on connection: PQConnection) throws -> [GenerationDeletion] {
        var deletions = marked.rows.map(Self.deletion)
        guard !deletions.isEmpty else { return [] }
        // Request ids are `[A-Za-z0-9._-]` (the table's CHECK); quoted, so an id such as `null` stays a string.
        let ids = "{" + deletions.map { "\"\($0.requestID)\"" }.joined(separator: ",") + "}"
        let shares = try connection.query(Self.revokeShares, [ids]).rows
        _ = try connection.query(Self.dropJobs, [ids])
        for index in deletions.indices {
            deletions[index].revokedShares = shares.filter { $0[1] == deletions[index].requestID }.map {
                RevokedShare(code: $0[0] ?? "", requestID: $0[1] ?? "", maxUses: $0[2].flatMap { Int($0) })
            }
            // An object another live generation still serves stays in the bucket; this row just stops naming it.
            if let key = deletions[index].objectKey, !(try connection.query(Self.objectShared, [key, deletions[index].requestID]).rows.isEmpty) {
                _ = try connection.query(Self.objectRemoved, [deletions[index].requestID, key])
                deletions[index].objectKey = nil
            }
        }
        return deletions
    }

    /// A row of `request_id` and `DeliveryRecord.columns`.
    private static func deletion(_ row: [String?]) -> GenerationDeletion {
        let record = DeliveryRecord(row: row[1...])
        return GenerationDeletion(requestID: row[0] ?? "", record: record, objectKey: record.objectKey, revokedShares: [])
    }

    public func objectRemoved(_ requestID: String, objectKey: String) async throws {
        _ = try await client.query(Self.objectRemoved, [requestID, objectKey])
    }

    public func unfinishedDeletions(olderThanSeconds: Int, limit: Int) async throws -> [GenerationDeletion] {
        try await client.query(Self.unfinished, [String(olderThanSeconds), String(limit)]).rows.map(Self.deletion)
    }

    public func recentDeletions(withinSeconds: Int) async throws -> [String] {
        try await client.query(Self.recentDeletions, [String(withinSeconds)]).rows.compactMap { $0[0] }
    }

    public func purgeDeleted(olderThanDays: Int, limit: Int) async throws -> Int {
        try await client.query(Self.purge, [String(olderThanDays), String(limit)]).affected
    }
}
