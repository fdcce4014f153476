public import Delivery
import Foundation
public import Logging
import Metrics
public import Postgres
public import ServiceLifecycle
public import SigV4

/// The `worker` role: `concurrency` loops that claim due jobs (`FOR UPDATE SKIP LOCKED`, leased), mirror them and
/// record the outcome. On graceful shutdown the loops stop claiming and finish their current job; a job whose
/// mirror is cancelled is handed back, and one whose worker died is taken by another after its lease.
public struct MirrorWorker: Service {
    /// Outcomes are written through `generations`, which updates the caches; claims, renewals and retries go to
    /// the queue, which no cache mirrors.
    let generations: Generations
    let jobs: MirrorJobStore
    let mirrorer: Mirrorer
    let cdnURLs: CDNURLs
    let logger: Logger
    /// Identifies this process's leases (`host:pid:random`).
    public let workerID: String
    private let outcomes = MirrorMetrics()

    public init(generations: Generations, jobs: MirrorJobStore, mirrorer: Mirrorer, cdnURLs: CDNURLs, logger: Logger) {
        self.generations = generations
        self.jobs = jobs
        self.mirrorer = mirrorer
        self.cdnURLs = cdnURLs
        self.logger = logger
        self.workerID = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(UInt32.random(in: 0...UInt32.max))"
    }

    var configuration: MirrorConfiguration { mirrorer.configuration }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for _ in 0..<max(1, configuration.concurrency) {
                group.addTask { await self.loop() }
            }
        }
    }

    private func loop() async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let job: MirrorJob?
            do {
                job = try await jobs.claim(worker: workerID, leaseSeconds: configuration.leaseSeconds)
            } catch {
                logger.warning("cannot claim mirror jobs", metadata: ["error": "\(error)"])
                job = nil
            }
            guard let job else {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.pollInterval) }
                continue
            }
            await process(job)
        }
    }

    /// Runs one claimed job to its outcome, renewing the lease while the mirror works.
    public func process(_ job: MirrorJob) async {
        let leaseSeconds = configuration.leaseSeconds
        let renewal = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(max(1, leaseSeconds / 3)))
                _ = try? await jobs.renew(job, worker: workerID, leaseSeconds: leaseSeconds)
            }
        }
        defer { renewal.cancel() }
        if job.attempts > configuration.maximumAttempts {
            // Workers kept dying on this job (each claim spends an attempt): give up as the contract says.
            await fail(job, "gave up after \(job.attempts - 1) attempts that never finished")
            return
        }
        do {
            let object = try await mirrorer.mirror(job)
            let completed = try await generations.complete(
                job, worker: workerID, objectKey: object.key, cdnURL: cdnURLs.url(key: object.key), contentType: object.contentType,
                sizeBytes: object.size)
            if !completed {
                await removeIfDeleted(job, key: object.key)
                return
            }
            outcomes.completed.increment()
            logger.info("mirrored", metadata: ["request_id": "\(job.requestID)", "bytes": "\(object.size)", "attempt": "\(job.attempts)"])
        } catch let error as MirrorError where error.permanent || job.attempts >= configuration.maximumAttempts {
            await fail(job, error.description)
        } catch let error as MirrorError {
            let delay = configuration.backoff(afterAttempt: job.attempts)
            do {
                try await jobs.retryLater(job, worker: workerID, delay: delay, error: error.description)
                outcomes.retried.increment()
                logger.info("mirror will retry", metadata: ["request_id": "\(job.requestID)", "error": "\(error)", "in": "\(Int(delay)) s"])
            } catch {
                logger.error("cannot record a mirror retry; the lease will expire", metadata: ["request_id": "\(job.requestID)"])
            }
        } catch is CancellationError {
            // Released outside the cancelled task, so the database call is not cancelled too.
            let (jobs, workerID) = (self.jobs, self.workerID)
            try? await Task.detached { try await jobs.release(job, worker: workerID) }.value
            logger.info("mirror cancelled; job handed back", metadata: ["request_id": "\(job.requestID)"])
        } catch {
            // Database trouble while recording: the lease expires and another attempt follows.
            logger.error("mirror bookkeeping failed", metadata: ["request_id": "\(job.requestID)", "error": "\(error)"])
        }
    }

    /// The lease was lost: another worker finishes the job, or the generation was deleted while this upload ran,
    /// and then nothing else would remove what was just stored (the row never named it). Its own error handling:
    /// the job is gone, so a retry or a failure would have nothing to record.
    private func removeIfDeleted(_ job: MirrorJob, key: String) async {
        do {
            guard try await generations.store.find(job.requestID)?.status == .deleted else { return }
            try await mirrorer.uploader.removeObject(key: key)
            logger.info("deleted while mirroring; upload removed", metadata: ["request_id": "\(job.requestID)"])
        } catch {
            logger.error(
                "deleted while mirroring, but the upload could not be removed",
                metadata: ["request_id": "\(job.requestID)", "key": "\(key)", "error": "\(error)"])
        }
    }

    private func fail(_ job: MirrorJob, _ reason: String) async {
        do {
            try await generations.fail(job, worker: workerID, error: reason)
            outcomes.failed.increment()
            logger.warning("mirror failed", metadata: ["request_id": "\(job.requestID)", "error": "\(reason)", "attempts": "\(job.attempts)"])
        } catch {
            logger.error("cannot record a mirror failure", metadata: ["request_id": "\(job.requestID)", "error": "\(error)"])
        }
    }
}

struct MirrorMetrics: Sendable {
    let completed = Counter(label: "usher_mirror_jobs_total", dimensions: [("result", "completed")])
    let retried = Counter(label: "usher_mirror_jobs_total", dimensions: [("result", "retry")])
    let failed = Counter(label: "usher_mirror_jobs_total", dimensions: [("result", "failed")])
}
