public import Delivery
import Foundation
public import Gateway
import HostAddress
public import Logging
public import Mirror
public import SigV4

/// Every setting of Usher, read once by one `ConfigurationReader` (flags are applied on top by the CLI) and handed
/// down: `usher serve`, each one-shot command and the tests use this type and no other reader of variables. Each
/// property names its variable and default (CONTRACT § Processes and roles).
public struct UsherConfiguration: Sendable {
    public enum Role: String, Sendable, CaseIterable {
        /// The edge listener (`/v`, `/s`).
        case gateway
        /// fal webhook, admin API and demo on the app listener.
        case webhook
        /// Mirror jobs.
        case worker
    }

    /// `--roles`; default all three (the embedded default).
    public var roles: Set<Role> = Set(Role.allCases)
    /// `USHER_LISTEN` [127.0.0.1:8080].
    public var edgeAddress: HostAndPort
    /// `USHER_APP_LISTEN` [127.0.0.1:8081].
    public var appAddress: HostAndPort
    /// `REDIS_URL` [redis://127.0.0.1:6379/0].
    public var redisURL: String
    /// `REDIS_CLUSTER` [0; 1: `REDIS_URL` lists seed nodes of a Redis Cluster].
    public var redisCluster: Bool
    /// `REDIS_READ_FROM_REPLICAS` [0; 1 with `REDIS_CLUSTER=1`: cache reads may be answered by the slots' replicas].
    public var redisReadFromReplicas: Bool
    /// `DATABASE_URL` [postgres://usher@127.0.0.1:5432/usher].
    public var databaseURL: String
    /// `S3_*`: read with the rest, but required only by what touches the bucket (`usher serve`, `presign`, `mirror`,
    /// `backfill`, `import`), so `usher revoke`, `share` or `migrate` run without them.
    public var s3: S3Configuration {
        get throws(ConfigurationError) { try s3Setting.get() }
    }
    private var s3Setting: Result<S3Configuration, ConfigurationError>
    /// `LOG_LEVEL` [info]: trace, debug, info, notice, warning, error or critical.
    public var logLevel: Logger.Level
    /// `PRESIGN_WINDOW` [0 = off].
    public var presignWindow: Int
    /// `PRESIGN_TTL`, `PUBLIC_BASE_URL`, `USHER_ORIGIN_FALLBACK`, `USHER_HEADER_TIMEOUT` [10 s], `USHER_IDLE_TIMEOUT`
    /// [60 s], `USHER_MAX_CONNECTIONS` [16384], `USHER_AUTH_REPORT_ONLY` [0], `S3_CREDENTIALS_EXPIRE_AT` [none].
    public var gateway: GatewayConfiguration
    /// `USHER_RATE_LIMIT_RPS` [0 = off], `USHER_RATE_LIMIT_BURST` [2 × RPS], `USHER_RATE_LIMIT_REDIS` [0; 1 shares the
    /// buckets through Redis].
    public var rateLimit: RateLimiter.Configuration
    /// `USHER_LOCAL_CACHE_TTL` [2 s], `USHER_LOCAL_CACHE_SIZE` [100000].
    public var lookup: GenerationLookup.Configuration
    /// `USHER_EVENT_LOOPS` [number of cores].
    public var eventLoops: Int
    /// `USHER_TOKEN_KEYS`: path of the viewer-token JWKS; unset means no token verifies (public videos still play).
    public var tokenKeysPath: String?
    /// `USHER_TOKEN_AUDIENCE` [usher].
    public var tokenAudience: String
    /// `USHER_ADMIN_TOKENS`, comma-separated.
    public var adminTokens: [String]
    /// `USHER_SHUTDOWN_GRACE` [25 s].
    public var shutdownGrace: Duration
    /// `USHER_PUBLIC_URL` [http:// + USHER_LISTEN].
    public var publicURL: String
    /// `USHER_DEMO` [0]: serve the demo player page `/demo/{id}` on the app listener (with the `webhook` role).
    public var demo: Bool
    /// `MIRROR_ALLOWED_HOSTS`, `MIRROR_MAX_BYTES`, `MIRROR_ALLOW_INSECURE_LOCALHOST`, `MIRROR_CONCURRENCY` [2],
    /// `MIRROR_LEASE_SECONDS` [60].
    public var mirror: MirrorConfiguration
    /// `FAL_JWKS_FILE`, else `FAL_JWKS_URL` [fal's URL, then its fallback].
    public var falKeys: FalKeyProvider.Source
    /// `FAL_WEBHOOK_USER_IDS`, comma-separated: the fal accounts whose webhooks are accepted; unset: any verified
    /// sender (warned at start).
    public var falWebhookUserIDs: Set<String>?
    /// `USHER_PLAY_LOG` [0]: one JSON line per play on standard output.
    public var plays: Plays.Configuration
    /// `USHER_RETENTION_DAYS` [0 = for ever]: the life of a generation registered without `expires_at`.
    public var generations: Generations.Configuration
    /// `USHER_RETENTION_SWEEP_INTERVAL` [60 s]: how often the worker role deletes expired generations, finishes
    /// interrupted deletions and purges DELETED rows older than 30 days.
    public var retentionSweepInterval: Duration

    public init(environment: ConfigurationReader, coreCount: Int) throws(ConfigurationError) {
        edgeAddress = try HostAndPort(environment["USHER_LISTEN"] ?? "127.0.0.1:8080", variable: "USHER_LISTEN")
        appAddress = try HostAndPort(environment["USHER_APP_LISTEN"] ?? "127.0.0.1:8081", variable: "USHER_APP_LISTEN")
        redisURL = environment["REDIS_URL"] ?? "redis://127.0.0.1:6379/0"
        redisCluster = try environment.flag("REDIS_CLUSTER")
        redisReadFromReplicas = try environment.flag("REDIS_READ_FROM_REPLICAS")
        if redisReadFromReplicas && !redisCluster {
            throw ConfigurationError("REDIS_READ_FROM_REPLICAS=1 needs REDIS_CLUSTER=1 (replicas are found in the cluster's slot map)")
        }
        databaseURL = environment["DATABASE_URL"] ?? "postgres://usher@127.0.0.1:5432/usher"
        s3Setting = Result { () throws(ConfigurationError) in try S3Configuration(environment: environment) }
        let level = environment["LOG_LEVEL"] ?? "info"
        guard let logLevel = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError("LOG_LEVEL must be trace, debug, info, notice, warning, error or critical, got '\(level)'")
        }
        self.logLevel = logLevel
        presignWindow = try environment.integer("PRESIGN_WINDOW", default: 0, range: 0...86_400)
        var gateway = GatewayConfiguration()
        gateway.presignTTL = try environment.integer("PRESIGN_TTL", default: 900, range: 1...(Presigner.maximumExpiry - presignWindow))
        gateway.publicBaseURL = environment["PUBLIC_BASE_URL"]
        if let base = gateway.publicBaseURL, !(base.hasPrefix("https://") || base.hasPrefix("http://")) {
            throw ConfigurationError("PUBLIC_BASE_URL must be an http(s) URL, got '\(base)'")
        }
        gateway.originFallback = try environment.flag("USHER_ORIGIN_FALLBACK")
        gateway.headTimeout = .milliseconds(try environment.milliseconds("USHER_HEADER_TIMEOUT", default: 10_000, range: 100...600_000))
        gateway.idleTimeout = .milliseconds(try environment.milliseconds("USHER_IDLE_TIMEOUT", default: 60_000, range: 100...3_600_000))
        gateway.maximumConnections = try environment.integer("USHER_MAX_CONNECTIONS", default: 16_384, range: 1...10_000_000)
        gateway.reportOnly = try environment.flag("USHER_AUTH_REPORT_ONLY")
        gateway.trustedProxyHeader = environment["USHER_TRUSTED_PROXY_HEADER"]
        if let origins = environment["USHER_CORS_ORIGINS"] {
            do { gateway.cors = try CORSPolicy(parsing: origins) } catch { throw ConfigurationError("USHER_CORS_ORIGINS: \(error)") }
        }
        let rate = try environment.integer("USHER_RATE_LIMIT_RPS", default: 0, range: 0...1_000_000)
        let burst = try environment.integer("USHER_RATE_LIMIT_BURST", default: max(1, 2 * rate), range: 1...10_000_000)
        rateLimit = RateLimiter.Configuration(rate: Double(rate), burst: Double(burst), shared: try environment.flag("USHER_RATE_LIMIT_REDIS"))
        gateway.credentialsExpireAt = try environment.instant("S3_CREDENTIALS_EXPIRE_AT")
        self.gateway = gateway
        var lookup = GenerationLookup.Configuration()
        lookup.localTTL = .milliseconds(try environment.milliseconds("USHER_LOCAL_CACHE_TTL", default: 2000, range: 0...3_600_000))
        lookup.localCapacity = try environment.integer("USHER_LOCAL_CACHE_SIZE", default: 100_000, range: 1...100_000_000)
        self.lookup = lookup
        eventLoops = try environment.integer("USHER_EVENT_LOOPS", default: coreCount, range: 1...1024)
        tokenKeysPath = environment["USHER_TOKEN_KEYS"]
        tokenAudience = environment["USHER_TOKEN_AUDIENCE"] ?? "usher"
        adminTokens = (environment["USHER_ADMIN_TOKENS"] ?? "").split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
        shutdownGrace = .milliseconds(try environment.milliseconds("USHER_SHUTDOWN_GRACE", default: 25_000, range: 0...3_600_000))
        var publicURL = environment["USHER_PUBLIC_URL"] ?? "http://\(edgeAddress)"
        while publicURL.hasSuffix("/") { publicURL.removeLast() }
        self.publicURL = publicURL
        demo = try environment.flag("USHER_DEMO")

        var mirror = MirrorConfiguration()
        if let hosts = environment["MIRROR_ALLOWED_HOSTS"] {
            mirror.allowedHosts = try hosts.split(separator: ",").map { (entry) throws(ConfigurationError) -> HostPattern in
                guard let pattern = HostPattern(String(entry).trimmed) else {
                    throw ConfigurationError("MIRROR_ALLOWED_HOSTS: '\(entry)' is not a host, *.host or host:port")
                }
                return pattern
            }
        }
        mirror.maximumBytes = Int64(try environment.integer("MIRROR_MAX_BYTES", default: 4 << 30, range: 1...(1 << 50)))
        mirror.allowInsecureLocalhost = try environment.flag("MIRROR_ALLOW_INSECURE_LOCALHOST")
        mirror.concurrency = try environment.integer("MIRROR_CONCURRENCY", default: 2, range: 1...64)
        mirror.leaseSeconds = try environment.integer("MIRROR_LEASE_SECONDS", default: 60, range: 3...3600)
        self.mirror = mirror
        self.gateway.originFallbackHosts = mirror.allowedHosts
        if let ids = environment["FAL_WEBHOOK_USER_IDS"] {
            let list = ids.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
            guard !list.isEmpty else { throw ConfigurationError("FAL_WEBHOOK_USER_IDS is set but names no fal user id") }
            falWebhookUserIDs = Set(list)
        }
        var plays = Plays.Configuration()
        plays.logPlays = try environment.flag("USHER_PLAY_LOG")
        self.plays = plays
        var generations = Generations.Configuration()
        generations.retentionDays = try environment.integer("USHER_RETENTION_DAYS", default: 0, range: 0...36_500)
        self.generations = generations
        retentionSweepInterval = .milliseconds(
            try environment.milliseconds("USHER_RETENTION_SWEEP_INTERVAL", default: 60_000, range: 100...86_400_000))
        if let file = environment["FAL_JWKS_FILE"] {
            falKeys = .file(file)
        } else if let url = environment["FAL_JWKS_URL"] {
            falKeys = .urls([url])
        } else {
            falKeys = .urls(FalKeyProvider.defaultURLs)
        }
    }

    /// Parses `gateway,webhook,worker`.
    public static func roles(_ text: String) throws(ConfigurationError) -> Set<Role> {
        var roles = Set<Role>()
        for name in text.split(separator: ",") {
            guard let role = Role(rawValue: String(name).trimmed) else {
                throw ConfigurationError("--roles takes gateway, webhook and worker, got '\(name)'")
            }
            roles.insert(role)
        }
        guard !roles.isEmpty else { throw ConfigurationError("--roles needs at least one role") }
        return roles
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
