import Logging
import Synchronization

/// Logs go to stderr at `LOG_LEVEL` (default info; `UsherConfiguration.logLevel`). Per-request lines exist only at
/// debug, and no log line carries a token, a signature or a secret.
enum UsherLogging {
    private static let bootstrapped = Mutex(false)

    /// Sets the level once per process; later calls (and loggers made before any call, at info) keep the first.
    static func bootstrap(level: Logger.Level) {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    static func logger(_ label: String = "usher") -> Logger {
        bootstrap(level: .info)
        return Logger(label: label)
    }
}
