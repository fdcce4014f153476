public import Delivery
public import NIOCore

/// Every SQL statement about share links, in one place.
public struct ShareStore: ShareStorage {
    public let client: PQClient

    public init(client: PQClient) { self.client = client }

    static let columns = """
        code, request_id, \(GenerationStore.rfc3339("expires_at")), \(GenerationStore.rfc3339("revoked_at")), max_uses, uses
        """

    /// Inserts only when the generation exists, in one statement (no check-then-insert).
    static let insert = """
        INSERT INTO shares (code, request_id, expires_at, max_uses)
        SELECT $1, request_id, now() + make_interval(secs => $2::bigint), $3::integer FROM generations WHERE request_id = $4
        RETURNING \(columns)
        """

    /// Revoking twice keeps the first time.
    static let revoke = "UPDATE shares SET revoked_at = COALESCE(revoked_at, now()) WHERE code = $1 RETURNING \(columns)"

    static let selectRecord = """
        SELECT request_id, floor(extract(epoch FROM expires_at))::bigint, revoked_at IS NOT NULL, max_uses, uses FROM shares WHERE code = $1
        """

    /// One use, counted atomically: the row lock makes concurrent visits of a `max_uses` share queue here, so
    /// exactly `max_uses` of them get a row back.
    static let consume = """
        UPDATE shares SET uses = uses + 1
        WHERE code = $1 AND revoked_at IS NULL AND expires_at > now() AND (max_uses IS NULL OR uses < max_uses)
        RETURNING uses
        """

    /// nil when the generation does not exist.
    public func create(code: String, requestID: String, ttlSeconds: Int, maxUses: Int?) async throws -> Share? {
        try await client.query(Self.insert, [code, String(ttlSeconds), maxUses.map(String.init), requestID]).records.first.map(Self.decode)
    }

    /// nil when no share has this code.
    public func revoke(code: String) async throws -> Share? {
        try await client.query(Self.revoke, [code]).records.first.map(Self.decode)
    }

    /// The gateway's read-through, completing on `eventLoop`; also returns the uses so far. The expiry is rounded
    /// down, so no URL handed out outlives the share.
    public func record(_ code: String, on eventLoop: any EventLoop) -> EventLoopFuture<(record: ShareRecord, uses: Int)?> {
        client.withConnection(on: eventLoop) { connection in
            guard let row = try connection.query(Self.selectRecord, [code]).rows.first, let requestID = row[0] else { return nil }
            let record = ShareRecord(
                requestID: requestID, expiresAt: row[1].flatMap { Int64($0) } ?? 0, revoked: row[2] == "t", maxUses: row[3].flatMap { Int($0) })
            return (record, row[4].flatMap { Int($0) } ?? 0)
        }
    }

    /// true when this visit got one of the share's uses.
    public func consume(_ code: String, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        client.withConnection(on: eventLoop) { connection in
            try !connection.query(Self.consume, [code]).rows.isEmpty
        }
    }

    static func decode(_ record: PQRecord) -> Share {
        Share(
            code: record["code"] ?? "", requestID: record["request_id"] ?? "", expiresAt: record["expires_at"] ?? "",
            revokedAt: record["revoked_at"], maxUses: record["max_uses"].flatMap { Int($0) }, uses: record["uses"].flatMap { Int($0) } ?? 0)
    }
}
