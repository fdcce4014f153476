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
        \(rfc3339("mirrored_at")), attempts, last_error, \(rfc3339("created_at")), \(rfc3339("updated_at"))
        """

    static let selectByID = "SELECT \(columns) FROM generations WHERE request_id = $1"

    static let selectDelivery = "SELECT status, visibility, owner, object_key, fal_url FROM generations WHERE request_id = $1"

    /// Creates the row unless the id exists (then returns nothing): never check-then-insert.
    static let insertRegistration = """
        INSERT INTO generations (request_id, owner, visibility, status, object_key, cdn_url, mirrored_at)
        VALUES ($1, $2, $3,
                CASE WHEN $4::text IS NULL THEN 'PENDING' ELSE 'COMPLETED' END,
                $4, $5,
                CASE WHEN $4::text IS NULL THEN NULL ELSE now() END)
        ON CONFLICT (request_id) DO NOTHING
        RETURNING \(columns)
        """

    /// A row fal's webhook created before the app registered it (owner unknown) takes the app's owner and
    /// visibility; a row that already has an owner is never changed here.
    static let claimOwnerless = """
        UPDATE generations SET owner = $2, visibility = $3, updated_at = now()
        WHERE request_id = $1 AND owner IS NULL
        RETURNING \(columns)
        """

    public func find(_ requestID: String) async throws -> Generation? {
        try await client.query(Self.selectByID, [requestID]).records.first.map(Self.decode)
    }

    /// The gateway's read-through, completing on `eventLoop`.
    public func delivery(_ requestID: String, on eventLoop: any EventLoop) -> EventLoopFuture<DeliveryRecord?> {
        client.withConnection(on: eventLoop) { connection in
            guard let row = try connection.query(Self.selectDelivery, [requestID]).rows.first else { return nil }
            return DeliveryRecord(
                status: Generation.Status(rawValue: row[0] ?? "") ?? .failed,
                visibility: Generation.Visibility(rawValue: row[1] ?? "") ?? .private,
                owner: row[2], objectKey: row[3], falURL: row[4])
        }
    }

    /// Records a generation the app submitted (PENDING), or an object already in the bucket (COMPLETED).
    public func register(
        requestID: String, owner: String?, visibility: Generation.Visibility, objectKey: String?, cdnURL: String?
    ) async throws -> GenerationRegistration {
        try await client.withConnection { connection in
            let inserted = try connection.query(
                Self.insertRegistration, [requestID, owner, visibility.rawValue, objectKey, objectKey == nil ? nil : cdnURL])
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
            updatedAt: record["updated_at"] ?? "")
    }
}
