public import Delivery
public import Logging
public import ServiceLifecycle

/// The worker role's retention pass, every `interval`: generations past `expires_at` are deleted as
/// `DELETE /v1/generations/{id}` deletes them, deletions a crash or the bucket interrupted are finished, and
/// DELETED rows older than 30 days are purged. Several workers may sweep at once: rows are claimed with
/// `SKIP LOCKED`, and every step can be run twice. Each pass also rolls the plays' viewer sketches up into their
/// daily rows (`Plays.rollUp`) and drops rows past 400 days.
public struct RetentionSweeper: Service {
    let generations: Generations
    let plays: Plays?
    let interval: Duration
    let logger: Logger

    public init(generations: Generations, plays: Plays?, interval: Duration, logger: Logger) {
        self.generations = generations
        self.plays = plays
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.sweepOnce()
                try await Task.sleep(for: self.interval)
            }
        }
    }

    /// One pass; a batch that was full is followed at once by the next.
    func sweepOnce() async {
        if let plays {
            do {
                _ = try await plays.rollUp()
            } catch {
                logger.warning("play roll-up failed; the next pass retries", metadata: ["error": "\(error)"])
            }
        }
        do {
            while true {
                let report = try await generations.sweep()
                if report.expired + report.objectsRemoved + report.purged > 0 || report.objectsPending > 0 {
                    logger.info(
                        "retention sweep",
                        metadata: [
                            "expired": "\(report.expired)", "objects_removed": "\(report.objectsRemoved)",
                            "objects_pending": "\(report.objectsPending)", "purged": "\(report.purged)",
                        ])
                }
                let full = generations.configuration.batchSize
                guard report.expired == full || report.purged == full, !Task.isCancelled else { return }
            }
        } catch {
            logger.warning("retention sweep failed; the next one retries", metadata: ["error": "\(error)"])
        }
    }
}
