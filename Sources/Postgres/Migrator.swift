public import Logging

/// Versioned SQL migrations, embedded in the binary (Migrations/NNNN_name.sql) and applied in order.
///
/// All pending migrations run in one transaction under an advisory lock, so two instances starting at once
/// apply them exactly once; they need only the rights of the database's owner.
public struct Migrator: Sendable {
    public struct Migration: Sendable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    /// Every migration this build knows, oldest first. (SwiftPM names embedded files by replacing the leading
    /// digit with `_`: `0001_generations.sql` is `_001_generations_sql`.)
    public static let migrations: [Migration] = [
        Migration(version: 1, name: "generations", sql: String(decoding: PackageResources._001_generations_sql, as: UTF8.self)),
        Migration(version: 2, name: "mirror_jobs", sql: String(decoding: PackageResources._002_mirror_jobs_sql, as: UTF8.self)),
        Migration(version: 3, name: "shares", sql: String(decoding: PackageResources._003_shares_sql, as: UTF8.self)),
        Migration(version: 4, name: "revocations", sql: String(decoding: PackageResources._004_revocations_sql, as: UTF8.self)),
        Migration(
            version: 5, name: "deletion_retention_listing",
            sql: String(decoding: PackageResources._005_deletion_retention_listing_sql, as: UTF8.self)),
        Migration(version: 6, name: "plays", sql: String(decoding: PackageResources._006_plays_sql, as: UTF8.self)),
        Migration(
            version: 7, name: "plays_hot_updates", sql: String(decoding: PackageResources._007_plays_hot_updates_sql, as: UTF8.self)),
    ]

    /// An arbitrary constant naming Usher's migration lock.
    static let advisoryLockKey = "7326504431"

    let client: PQClient
    let logger: Logger

    public init(client: PQClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Applies pending migrations; returns the versions it applied (empty when already up to date).
    @discardableResult
    public func migrate() async throws -> [Int] {
        let applied = try await client.withTransaction { connection in
            try connection.query("SELECT pg_advisory_xact_lock($1::bigint)", [Self.advisoryLockKey])
            try connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    INTEGER PRIMARY KEY,
                    name       TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """)
            let done = Set(try connection.query("SELECT version FROM schema_migrations").rows.compactMap { $0[0].flatMap { Int($0) } })
            var applied: [Int] = []
            for migration in Self.migrations where !done.contains(migration.version) {
                try connection.execute(script: migration.sql)
                try connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [String(migration.version), migration.name])
                applied.append(migration.version)
            }
            return applied
        }
        for version in applied { logger.info("applied migration", metadata: ["version": "\(version)"]) }
        return applied
    }
}
