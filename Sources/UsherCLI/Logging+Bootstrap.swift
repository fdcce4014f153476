import Foundation
import Logging

/// Logs go to stderr at `LOG_LEVEL` (default info). Per-request lines exist only at debug, and no log line
/// carries a token, a signature or a secret.
enum UsherLogging {
    private static let bootstrapped: Void = {
        let level = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }()

    static func logger(_ label: String = "usher") -> Logger {
        _ = bootstrapped
        return Logger(label: label)
    }
}
