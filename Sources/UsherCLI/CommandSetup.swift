import Foundation
import Logging
import UsherServer

/// Where every command starts: the configuration, read once by the one reader with the command's flags written over
/// it, logging at its `LOG_LEVEL`, and, for commands that talk to Redis and Postgres, the same clients `usher serve`
/// builds (`UsherClients`), on one event loop.
enum CommandSetup {
    static func configuration(overrides: [String: String?] = [:]) throws -> UsherConfiguration {
        var reader = ConfigurationReader.process
        for case (let name, let value?) in overrides { reader.values[name] = value }
        let configuration = try UsherConfiguration(environment: reader, coreCount: ProcessInfo.processInfo.activeProcessorCount)
        UsherLogging.bootstrap(level: configuration.logLevel)
        return configuration
    }

    static func clients() async throws -> UsherClients {
        try await UsherClients.connect(configuration: try configuration(), eventLoops: 1, postgresPoolSize: 2, logger: UsherLogging.logger())
    }
}
