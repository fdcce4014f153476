public import Delivery

/// Every SQL statement about revocations, in one place.
public struct RevocationStore: RevocationStorage {
    public let client: PQClient

    public init(client: PQClient) { self.client = client }

    static let columns = "kind, value, \(GenerationStore.rfc3339("until")), floor(extract(epoch FROM until))::bigint AS until_epoch"

    /// Revoking again replaces the `until`.
    static let upsert = """
        INSERT INTO revocations (kind, value, until) VALUES ($1, $2, $3::timestamptz)
        ON CONFLICT (kind, value) DO UPDATE SET until = EXCLUDED.until, created_at = now()
        RETURNING \(columns)
        """

    static let delete = "DELETE FROM revocations WHERE kind = $1 AND value = $2"

    static let active = "SELECT \(columns) FROM revocations WHERE until IS NULL OR until > now()"

    /// `until` is RFC 3339 text, parsed by PostgreSQL (a bad one throws with SQLSTATE class 22).
    public func add(_ kind: Revocation.Kind, value: String, until: String?) async throws -> Revocation {
        guard let record = try await client.query(Self.upsert, [kind.rawValue, value, until]).records.first else {
            throw PQError(.query, "INSERT … RETURNING returned no row")
        }
        return Self.decode(record)
    }

    /// false when nothing was revoked under that kind and value.
    public func remove(_ kind: Revocation.Kind, value: String) async throws -> Bool {
        try await client.query(Self.delete, [kind.rawValue, value]).affected > 0
    }

    /// Revocations in force now.
    public func active() async throws -> [Revocation] {
        try await client.query(Self.active).records.map(Self.decode)
    }

    /// The statement is about generations, so it lives with theirs.
    public func recentDeletions(withinSeconds: Int) async throws -> [String] {
        try await GenerationStore(client: client).recentDeletions(withinSeconds: withinSeconds)
    }

    static func decode(_ record: PQRecord) -> Revocation {
        Revocation(
            kind: Revocation.Kind(rawValue: record["kind"] ?? "") ?? .tokenID, value: record["value"] ?? "", until: record["until"],
            untilEpoch: record["until_epoch"].flatMap { Int64($0) })
    }
}
