import Foundation
import Logging
import Postgres
import ServerTestSupport
import Testing
import UsherTestSupport

/// `DATABASE_URL` with several hosts (libpq's multi-host URLs) against two real PostgreSQL servers: the stack's
/// (read-write, the primary) and a second cluster whose database is read-only, as a standby looks to libpq.
/// `target_session_attrs` picks the right one, and a host that is down is skipped.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
final class PostgresMultiHostTests {
    let primary: Int
    let second: Int
    let dead: Int
    let environment: [String: String]

    init() throws {
        primary = Int(LocalStack.environment["PG_PORT"] ?? "5432") ?? 5432
        second = try freeLoopbackPort()
        dead = try freeLoopbackPort()
        var environment = LocalStack.environment
        environment["USHER_DATA_DIR"] = LocalStack.repositoryRoot.appendingPathComponent(".data/pg-second").path
        environment["PG_PORT"] = String(second)
        self.environment = environment
        try stack("start", "postgres")
    }

    deinit { try? stack("stop", "postgres") }

    func stack(_ arguments: String...) throws {
        let outcome = try spawnAndWait(
            "/bin/bash", [LocalStack.repositoryRoot.appendingPathComponent("deploy/local/stack").path] + arguments, environment: environment)
        guard outcome.status == 0 else { throw ProcessFailure(description: String(decoding: outcome.stderr, as: UTF8.self)) }
    }

    func url(_ ports: [Int], _ attributes: String) -> String {
        "postgres://usher@\(ports.map { "127.0.0.1:\($0)" }.joined(separator: ","))/usher_test?target_session_attrs=\(attributes)"
    }

    func serverPort(_ url: String) async throws -> Int? {
        let client = PQClient(configuration: PostgresConfiguration(url: url, poolSize: 1), logger: Logger(label: "multi-host"))
        let value: String? = try await client.query("SELECT inet_server_port()").rows.first?.first ?? nil
        await client.shutdown()
        return value.flatMap { Int($0) }
    }

    @Test func targetSessionAttributesChooseTheServerAndADownHostIsSkipped() async throws {
        // The second cluster's database becomes read-only: libpq's read-write check (`SHOW transaction_read_only`) skips it.
        let setup = PQClient(configuration: PostgresConfiguration(url: url([second], "any"), poolSize: 1), logger: Logger(label: "setup"))
        // (A cluster left by an earlier run is read-only already: this session turns it off for itself first.)
        try await setup.withConnection { connection in
            _ = try connection.query("SET default_transaction_read_only = off")
            _ = try connection.query("ALTER DATABASE usher_test SET default_transaction_read_only = on")
        }
        await setup.shutdown()

        #expect(try await serverPort(url([second, primary], "read-write")) == primary)
        #expect(try await serverPort(url([primary, second], "read-only")) == second)
        #expect(try await serverPort(url([dead, primary], "read-write")) == primary)
        #expect(try await serverPort(url([dead, second, primary], "any")) == second)

        // A gateway whose DATABASE_URL lists a down host and the read-only server first writes to the primary.
        let server = try await TestServer.start(["DATABASE_URL": url([dead, second, primary], "read-write")])
        let id = try await server.registerVideo(uniqueID("multihost"))
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(try server.token(videoIDs: [id]))").status == 302)
        try await server.stop()

        // The second server goes down: the read-write URL still reaches the primary.
        try stack("stop", "postgres")
        #expect(try await serverPort(url([second, primary], "read-write")) == primary)
        try stack("start", "postgres")
    }
}
