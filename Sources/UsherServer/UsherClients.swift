public import AsyncHTTPClient
public import Delivery
public import Gateway
public import Logging
public import Mirror
public import NIOCore
import NIOPosix
public import Postgres
public import Redis
public import SigV4

/// The clients and shared services every Usher process uses, built in one place: `buildServices` (`usher serve`)
/// and every one-shot command start from this, so they wire the same objects the same way and release them the
/// same way. What needs the bucket (`cdnURLs()`, `mirrorWorker`) reads the S3 settings only when asked, so a
/// command that never touches the bucket runs without them.
public struct UsherClients: Sendable {
    public let configuration: UsherConfiguration
    public let group: any EventLoopGroup
    public let redis: RedisClient
    public let postgres: PQClient
    public let store: GenerationStore
    public let lookup: GenerationLookup
    /// Every write to a generation, with its cache update.
    public let generations: Generations
    public let shares: ShareLinks
    public let revocations: Revocations
    public let jobs: MirrorJobStore
    /// Play counting (the edge records, this flushes) and the stats it answers.
    public let plays: Plays
    /// The mirror's HTTP client, also the fal key fetcher's.
    public let http: HTTPClient

    /// Builds the clients on `eventLoops` loops and applies pending migrations (idempotent, under the advisory
    /// lock), so a process started against a new database works instead of failing on missing tables.
    public static func connect(
        configuration: UsherConfiguration, eventLoops: Int, postgresPoolSize: Int = 4, logger: Logger
    ) async throws -> UsherClients {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: eventLoops)
        let redis: RedisClient
        do {
            redis = try RedisClient(
                url: configuration.redisURL, cluster: configuration.redisCluster, readFromReplicas: configuration.redisReadFromReplicas, group: group,
                logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let postgres = PQClient(configuration: PostgresConfiguration(url: configuration.databaseURL, poolSize: postgresPoolSize), logger: logger)
        let store = GenerationStore(client: postgres)
        let cache = RedisCache(client: redis)
        let lookup = GenerationLookup(configuration: configuration.lookup, cache: cache, store: store, group: group)
        let jobs = MirrorJobStore(client: postgres)
        let shares = ShareLinks(cache: cache, store: ShareStore(client: postgres))
        let revocations = Revocations(
            cache: cache, store: RevocationStore(client: postgres),
            recentDeletionWindow: Revocations.deletionWindow(localTTL: configuration.lookup.localTTL), logger: logger)
        let http = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: .mirror(configuration.mirror))
        // Without the S3 settings (a command that needs no bucket) deletions leave the object to the worker's sweep.
        let objects = (try? configuration.s3).map { ObjectUploader(s3: $0, http: http) }
        let clients = UsherClients(
            configuration: configuration, group: group, redis: redis, postgres: postgres, store: store, lookup: lookup,
            generations: Generations(
                configuration: configuration.generations, store: store, jobs: jobs, lookup: lookup, shares: shares, revocations: revocations,
                objects: objects),
            shares: shares, revocations: revocations, jobs: jobs,
            plays: Plays(
                configuration: configuration.plays, ledger: PlayStore(client: postgres), sketches: RedisViewerSketches(client: redis), group: group,
                logger: logger),
            http: http)
        do {
            try await Migrator(client: postgres, logger: logger).migrate()
        } catch {
            await clients.close()
            throw ConfigurationError("cannot migrate the database at \(PostgresConfiguration(url: configuration.databaseURL)): \(error)")
        }
        return clients
    }

    /// The canonical URLs of stored objects (needs the S3 settings).
    public func cdnURLs() throws(ConfigurationError) -> CDNURLs {
        CDNURLs(s3: try configuration.s3, publicBaseURL: configuration.gateway.publicBaseURL)
    }

    /// A mirror worker over these clients (needs the S3 settings).
    public func mirrorWorker(logger: Logger) throws(ConfigurationError) -> MirrorWorker {
        let mirrorer = Mirrorer(configuration: configuration.mirror, http: http, uploader: ObjectUploader(s3: try configuration.s3, http: http))
        return MirrorWorker(generations: generations, jobs: jobs, mirrorer: mirrorer, cdnURLs: try cdnURLs(), logger: logger)
    }

    /// Releases every connection and the event loops.
    public func close() async {
        try? await http.shutdown()
        await redis.shutdown()
        await postgres.shutdown()
        try? await group.shutdownGracefully()
    }
}
