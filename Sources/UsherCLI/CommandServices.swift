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

/// The clients the one-shot commands (`import`, `mirror`, `backfill`, `share`, `revoke`) need, built from the same settings as
/// `usher serve` on a single event loop.
struct CommandServices {
    let configuration: UsherConfiguration
    let group: MultiThreadedEventLoopGroup
    let redis: RedisClient
    let postgres: PostgresClient
    let http: HTTPClient
    let store: GenerationStore
    let lookup: GenerationLookup
    let shares: ShareLinks
    let revocations: Revocations
    let cdnURLs: CDNURLs
    let jobs: MirrorJobStore
    let worker: MirrorWorker

    /// Applies pending migrations first, as `usher serve` does (idempotent, under the advisory lock): a command run
    /// against a new database works instead of failing line by line on missing tables.
    init(logger: Logger) async throws {
        configuration = try UsherConfiguration(environment: Environment(ProcessInfo.processInfo.environment), coreCount: 1)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        redis = try RedisClient(url: configuration.redisURL, group: group, logger: logger)
        postgres = PostgresClient(configuration: PostgresConfiguration(url: configuration.databaseURL, poolSize: 2), logger: logger)
        http = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: .mirror(configuration.mirror))
        store = GenerationStore(client: postgres)
        lookup = GenerationLookup(configuration: configuration.lookup, redis: redis, store: store, group: group)
        shares = ShareLinks(redis: redis, store: ShareStore(client: postgres))
        revocations = Revocations(redis: redis, store: RevocationStore(client: postgres), logger: logger)
        cdnURLs = CDNURLs(s3: configuration.s3, publicBaseURL: configuration.gateway.publicBaseURL)
        jobs = MirrorJobStore(client: postgres)
        let mirrorer = Mirrorer(configuration: configuration.mirror, http: http, uploader: ObjectUploader(s3: configuration.s3, http: http))
        worker = MirrorWorker(jobs: jobs, mirrorer: mirrorer, lookup: lookup, cdnURLs: cdnURLs, logger: logger)
        do {
            try await Migrator(client: postgres, logger: logger).migrate()
        } catch {
            await close()
            throw ValidationError("cannot migrate the database at \(PostgresConfiguration(url: configuration.databaseURL)): \(error)")
        }
    }

    func close() async {
        try? await http.shutdown()
        await redis.shutdown()
        await postgres.shutdown()
        try? await group.shutdownGracefully()
    }
}
