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
        var configuration = try CommandSetup.configuration(overrides: ["USHER_LISTEN": listen, "USHER_APP_LISTEN": appListen])
        if let roles { configuration.roles = try UsherConfiguration.roles(roles) }
        // Buffers of 1 MiB and more (mirror parts are 8 MiB) come from mmap and go back to the kernel when freed;
        // glibc's adaptive threshold would otherwise keep every freed part in the heap and RSS would only grow.
        #if os(Linux)
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 20)
        #endif
        let logger = UsherLogging.logger()
        logger.info("starting", metadata: ["roles": "\(configuration.roles.map(\.rawValue).sorted().joined(separator: ","))"])
        let services = try await buildServices(configuration: configuration, logger: logger)
        try await services.run()
    }
}

#if os(Linux)
/// glibc's `mallopt` (malloc.h is not part of the Glibc module).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
