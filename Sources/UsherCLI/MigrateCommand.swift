import ArgumentParser
import Foundation
import Postgres
import UsherServer

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply pending Postgres migrations (DATABASE_URL); safe to run repeatedly and concurrently.")

    func run() async throws {
        let url = try CommandSetup.configuration().databaseURL
        let client = PQClient(configuration: PostgresConfiguration(url: url, poolSize: 1), logger: UsherLogging.logger())
        defer { Task { await client.shutdown() } }
        do {
            let applied = try await Migrator(client: client, logger: UsherLogging.logger()).migrate()
            print(applied.isEmpty ? "database is up to date" : "applied migrations: \(applied.map(String.init).joined(separator: ", "))")
            await client.shutdown()
        } catch {
            await client.shutdown()
            throw ConfigurationError("cannot migrate \(PostgresConfiguration(url: url)): \(error)")
        }
    }
}
