import ArgumentParser
import Foundation
import Logging
import UsherServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the HTTP listeners and background work (all roles by default).")

    @Option(help: "Comma-separated roles: gateway, webhook, worker. Default: all three.") var roles: String?
    @Option(help: "Edge listener host:port (USHER_LISTEN).") var listen: String?
    @Option(help: "App listener host:port (USHER_APP_LISTEN).") var appListen: String?

    func run() async throws {
        var environment = Environment(ProcessInfo.processInfo.environment)
        if let listen { environment.values["USHER_LISTEN"] = listen }
        if let appListen { environment.values["USHER_APP_LISTEN"] = appListen }
        var configuration = try UsherConfiguration(environment: environment, coreCount: ProcessInfo.processInfo.activeProcessorCount)
        if let roles { configuration.roles = try UsherConfiguration.roles(roles) }
        let logger = UsherLogging.logger()
        logger.info("starting", metadata: ["roles": "\(configuration.roles.map(\.rawValue).sorted().joined(separator: ","))"])
        let services = try await buildServices(configuration: configuration, logger: logger)
        try await services.run()
    }
}
