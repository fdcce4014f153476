import ArgumentParser
import AsyncHTTPClient
import Foundation
import Gateway
import Logging
import Mirror
import NIOCore
import NIOPosix
import Postgres
import RedisClient
import SigV4
import UsherServer

/// The pieces `usher mirror` and `usher backfill` need, built from the same settings as `usher serve`.
struct MirrorTooling {
    let group: MultiThreadedEventLoopGroup
    let redis: RedisClient
    let postgres: PostgresClient
    let http: HTTPClient
    let jobs: MirrorJobStore
    let worker: MirrorWorker

    init(logger: Logger) throws {
        let configuration = try UsherConfiguration(environment: Environment(ProcessInfo.processInfo.environment), coreCount: 1)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        redis = try RedisClient(configuration: RedisConfiguration(url: configuration.redisURL), group: group, logger: logger)
        postgres = PostgresClient(configuration: PostgresConfiguration(url: configuration.databaseURL, poolSize: 2), logger: logger)
        http = HTTPClient(
            eventLoopGroupProvider: .shared(group),
            configuration: .init(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: .seconds(30))))
        jobs = MirrorJobStore(client: postgres)
        let store = GenerationStore(client: postgres)
        let lookup = GenerationLookup(configuration: configuration.lookup, redis: redis, store: store, group: group)
        let mirrorer = Mirrorer(configuration: configuration.mirror, http: http, uploader: ObjectUploader(s3: configuration.s3, http: http))
        worker = MirrorWorker(
            jobs: jobs, mirrorer: mirrorer, lookup: lookup,
            cdnURLs: CDNURLs(s3: configuration.s3, publicBaseURL: configuration.gateway.publicBaseURL), logger: logger)
    }

    func close() async {
        try? await http.shutdown()
        await redis.shutdown()
        await postgres.shutdown()
        try? await group.shutdownGracefully()
    }
}

struct MirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror", abstract: "Mirror one generation now (it needs a fal_url), and print how it ended.")

    @Argument(help: "The generation's request id.") var requestID: String

    func run() async throws {
        guard RequestID.isValid(requestID) else { throw ValidationError("'\(requestID)' is not a valid request id") }
        let logger = UsherLogging.logger()
        let tools = try MirrorTooling(logger: logger)
        do {
            guard try await tools.jobs.enqueue(requestID: requestID) else {
                throw ValidationError("no generation \(requestID) with a fal_url")
            }
            guard let job = try await tools.jobs.claim(requestID: requestID, worker: tools.worker.workerID, leaseSeconds: 300) else {
                throw ValidationError("another worker holds the job of \(requestID); try again after its lease")
            }
            await tools.worker.process(job)
            let generation = try await GenerationStore(client: tools.postgres).find(requestID)
            print("\(requestID): \(generation?.status.rawValue ?? "missing")\(generation?.lastError.map { " (\($0))" } ?? "")\(generation?.objectKey.map { " → \($0)" } ?? "")")
            await tools.close()
            if generation?.status != .completed { throw ExitCode(1) }
        } catch {
            await tools.close()
            throw error
        }
    }
}

struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill", abstract: "Queue a mirror job for every PENDING or FAILED generation that has a fal_url.")

    func run() async throws {
        let tools = try MirrorTooling(logger: UsherLogging.logger())
        do {
            let ids = try await tools.jobs.backfill()
            print("queued \(ids.count) generation\(ids.count == 1 ? "" : "s")")
            await tools.close()
        } catch {
            await tools.close()
            throw error
        }
    }
}
