public import Logging
import Metrics
public import ServiceLifecycle

/// Warns before temporary S3 credentials (`S3_SESSION_TOKEN` with `S3_CREDENTIALS_EXPIRE_AT`) expire, and says so
/// once they have: the gateway already cuts every URL to end by then and answers 503 after it, but only new
/// credentials (and a restart) bring private videos back.
public struct CredentialWatch: Service {
    /// Unix seconds.
    let expiresAt: Int64
    /// Warn this long before. Default 15 minutes.
    let warnBefore: Int64
    let checkEvery: Duration
    let logger: Logger
    let now: @Sendable () -> Int64

    public init(
        expiresAt: Int64, warnBefore: Int64 = 900, checkEvery: Duration = .seconds(60), logger: Logger,
        now: @escaping @Sendable () -> Int64
    ) {
        self.expiresAt = expiresAt
        self.warnBefore = warnBefore
        self.checkEvery = checkEvery
        self.logger = logger
        self.now = now
    }

    /// What to say now, if anything.
    public func message(at time: Int64) -> (Logger.Level, String)? {
        let left = expiresAt - time
        if left <= 0 { return (.error, "S3 credentials expired \(-left) s ago: private videos answer 503 until new credentials are configured") }
        if left <= warnBefore { return (.warning, "S3 credentials expire in \(left) s: presigned URLs are cut to end by then") }
        return nil
    }

    public func run() async throws {
        // For alerts (deploy/observability): the expiry as a series, `… - time() < 3600` warns an hour ahead.
        Gauge(label: "usher_s3_credentials_expiry_timestamp_seconds").record(expiresAt)
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let (level, text) = message(at: now()) { logger.log(level: level, "\(text)") }
                try await Task.sleep(for: checkEvery)
            }
        }
    }
}
