import AppServer
import AsyncHTTPClient
public import Delivery
public import Gateway
import Hummingbird
import HummingbirdCore
public import Logging
import Mirror
public import NIOCore
import NIOPosix
public import Postgres
public import Redis
public import ServiceLifecycle
import SigV4
import UnixSignals
import ViewerAuth

#if canImport(Glibc)
import Glibc
#endif

/// The running pieces of one Usher process, as `usher serve` and the tests build them.
public struct UsherServices: Sendable {
    public let clients: UsherClients
    public let keys: ViewerKeys
    /// nil without the `gateway` role.
    public let edge: EdgeServer?
    /// Completes with the app listener's bound port once it is up.
    public let appPort: EventLoopFuture<Int>
    public let serviceGroup: ServiceGroup

    public var configuration: UsherConfiguration { clients.configuration }
    public var group: any EventLoopGroup { clients.group }
    public var redis: RedisClient { clients.redis }
    public var postgres: PQClient { clients.postgres }
    public var store: GenerationStore { clients.store }
    public var lookup: GenerationLookup { clients.lookup }
    public var generations: Generations { clients.generations }
    public var shares: ShareLinks { clients.shares }
    public var revocations: Revocations { clients.revocations }

    /// Runs until SIGTERM/SIGINT (or `serviceGroup.triggerGracefulShutdown()`), then releases connections.
    public func run() async throws {
        do {
            try await serviceGroup.run()
        } catch {
            await clients.close()
            throw error
        }
        await clients.close()
    }
}

/// Builds exactly what production runs: migrations applied, clients connected, listeners configured.
public func buildServices(configuration: UsherConfiguration, logger: Logger) async throws -> UsherServices {
    UsherMetrics.bootstrap()
    // Every role touches the bucket (presigning, canonical URLs, uploads): a missing S3 setting stops the start.
    let s3 = try configuration.s3
    let clients = try await UsherClients.connect(configuration: configuration, eventLoops: configuration.eventLoops, logger: logger)
    let (group, redis, postgres, lookup, shares, revocations, httpClient) = (
        clients.group, clients.redis, clients.postgres, clients.lookup, clients.shares, clients.revocations, clients.http
    )
    redis.connect()
    // A setting refused from here on (the key file, the S3 settings) must not leave the clients' threads running.
    do {

        let keySet: ViewerKeySet
        if let path = configuration.tokenKeysPath {
            keySet = try loadViewerKeySet(path: path)
        } else {
            logger.warning("USHER_TOKEN_KEYS is not set: no viewer token will verify; public videos still play")
            keySet = ViewerKeySet(keys: [])
        }
        if configuration.falWebhookUserIDs == nil && configuration.roles.contains(.webhook) {
            logger.warning("FAL_WEBHOOK_USER_IDS is not set: webhooks signed by fal for any fal account are accepted and mirrored")
        }
        if configuration.adminTokens.isEmpty && configuration.roles.contains(.webhook) {
            logger.warning("USHER_ADMIN_TOKENS is not set: the admin API refuses every request")
        }
        let keys = ViewerKeys(ViewerTokenVerifier(keySet: keySet, audience: configuration.tokenAudience))
        // In force from the first request; the poller keeps it current.
        try? await revocations.reload()
        // Fails closed until the list has loaded (Postgres may be down now); the poller retries every 250 ms.
        let readiness = Readiness(redis: redis, postgres: postgres, revocations: configuration.roles.contains(.gateway) ? revocations : nil)
        let cdnURLs = try clients.cdnURLs()

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        var edge: EdgeServer?
        if configuration.roles.contains(.gateway) {
            let presigner = try Presigner(configuration: s3, signingWindow: configuration.presignWindow)
            let service = EdgeService(
                configuration: configuration.gateway, presigner: presigner, keys: keys, lookup: lookup, shares: shares, revocations: revocations,
                rateLimiter: RateLimiter(configuration: configuration.rateLimit, redis: redis), readiness: readiness, plays: clients.plays,
                group: group, logger: logger)
            let server = EdgeServer(
                host: configuration.edgeAddress.host, port: configuration.edgeAddress.port, service: service, group: group, logger: logger)
            // Viewers hash with the instances' shared daily key from the first play.
            await clients.plays.prepare()
            // Before the edge: a service group stops in reverse order, so the plays' last flush comes after the
            // edge's last answer, and the revocation list keeps refreshing while the edge answers the requests it
            // has read (a takedown in those seconds still applies). It also means the edge's graceful shutdown is
            // not held behind a revocation reload waiting on Postgres.
            services.append(.init(service: clients.plays))
            services.append(.init(service: revocations))
            services.append(.init(service: server))
            edge = server
        }

        let appPort = group.next().makePromise(of: Int.self)
        let dependencies = AppDependencies(
            generations: clients.generations, jobs: clients.jobs, plays: clients.plays, readiness: readiness,
            cdnURLs: cdnURLs, adminTokens: configuration.adminTokens, servesAdmin: configuration.roles.contains(.webhook),
            webhookVerifier: FalWebhookVerifier(
                keys: FalKeyProvider(source: configuration.falKeys, httpClient: httpClient, logger: logger),
                allowedUserIDs: configuration.falWebhookUserIDs),
            shares: shares, revocations: revocations, publicURL: configuration.publicURL, servesDemo: configuration.demo,
            retryAfterUnavailable: configuration.gateway.retryAfterUnavailable)
        // The app listener takes the edge's head limits and time limits (the fal webhook faces the internet too).
        let appHTTP = HTTP1Channel.Configuration(
            idleTimeout: TimeAmount(configuration.gateway.idleTimeout),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: configuration.gateway.maximumHeadBytes, maxHeaderListSize: configuration.gateway.maximumHeadBytes,
                maxHeaderFieldCount: configuration.gateway.maximumHeaderCount))
        let app = Application(
            router: buildAppRouter(dependencies),
            server: .guardedHTTP1(
                configuration: appHTTP, headTimeout: TimeAmount(configuration.gateway.headTimeout),
                idleTimeout: TimeAmount(configuration.gateway.idleTimeout), sendBufferBytes: configuration.gateway.socketBufferBytes),
            configuration: .init(address: .hostname(configuration.appAddress.host, port: configuration.appAddress.port), serverName: "usher"),
            onServerRunning: { channel in appPort.succeed(channel.localAddress?.port ?? 0) },
            eventLoopGroupProvider: .shared(group),
            logger: logger)
        services.append(.init(service: app))
        if configuration.roles.contains(.worker) {
            services.append(.init(service: try clients.mirrorWorker(logger: logger)))
            services.append(
                .init(
                    service: RetentionSweeper(
                        generations: clients.generations, plays: clients.plays, interval: configuration.retentionSweepInterval, logger: logger)))
        }
        if let expiresAt = configuration.gateway.credentialsExpireAt {
            services.append(.init(service: CredentialWatch(expiresAt: expiresAt, logger: logger, now: { Int64(time(nil)) })))
        } else if s3.credentials.sessionToken != nil {
            logger.warning("S3_SESSION_TOKEN is set without S3_CREDENTIALS_EXPIRE_AT: presigned URLs may outlive the credentials")
        }
        services.append(
            .init(service: KeyReloader(path: configuration.tokenKeysPath, keys: keys, audience: configuration.tokenAudience, logger: logger)))

        var groupConfiguration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGrace
        return UsherServices(
            clients: clients, keys: keys, edge: edge, appPort: appPort.futureResult, serviceGroup: ServiceGroup(configuration: groupConfiguration))
    } catch {
        await clients.close()
        throw error
    }
}
