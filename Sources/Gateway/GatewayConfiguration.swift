public import Delivery
public import HostAddress

/// Settings of the edge (`/v`, `/s`). Filled from the environment by `usher serve`.
public struct GatewayConfiguration: Sendable {
    /// `PRESIGN_TTL`: lifetime of presigned URLs, 1…604800 s. Default 900.
    public var presignTTL: Int = 900
    /// `PUBLIC_BASE_URL`: where public videos are served unsigned (e.g. a CDN). Default none: public videos
    /// then get a presigned URL like private ones.
    public var publicBaseURL: String?
    /// `USHER_ORIGIN_FALLBACK`: redirect to `fal_url` while a video is not mirrored yet. Default off (503).
    public var originFallback: Bool = false
    /// The hosts the origin fallback may redirect to: `MIRROR_ALLOWED_HOSTS` [fal.media, *.fal.media].
    public var originFallbackHosts: [HostPattern] = [HostPattern("fal.media")!, HostPattern("*.fal.media")!]
    /// Verified tokens remembered per event loop. Default 10,000.
    public var tokenCacheCapacity: Int = 10_000
    /// With `PRESIGN_WINDOW` set, the objects whose current window's URL is remembered per event loop (about half a
    /// kilobyte each). Default 10,000.
    public var windowedURLCapacity: Int = 10_000
    /// `Retry-After` for a video still being mirrored. Default 5 s.
    public var retryAfterNotReady: Int = 5
    /// `Retry-After` when Redis and Postgres both fail. Default 2 s.
    public var retryAfterUnavailable: Int = 2
    /// `Cache-Control: public, max-age` for public redirects. Default 3600.
    public var publicMaxAge: Int = 3600

    /// Bytes of a request head (request line and headers together, and any one of them); more → 431 and the
    /// connection closes. URLs over 8 KiB but within this limit get 414. Default 32 KiB.
    public var maximumHeadBytes: Int = 32 * 1024
    /// Header fields per request; more → 431. Default 100.
    public var maximumHeaderCount: Int = 100
    /// Kernel send and receive buffer of each edge connection (`SO_SNDBUF`, `SO_RCVBUF`; the kernel doubles it).
    /// The edge takes requests of a few hundred bytes and answers a few hundred: it needs no more, and a larger
    /// buffer only lets a client that never reads its answers make the server answer (and the kernel hold) up to
    /// the autotuned maximum (`net.ipv4.tcp_wmem`, 4 MiB on Debian 12) before backpressure reaches the handler.
    /// Default 64 KiB, like nginx's `listen … sndbuf=` / `rcvbuf=` when tuned for small responses.
    public var socketBufferBytes: Int = 64 * 1024
    /// `USHER_HEADER_TIMEOUT`: a whole request (head and any body) must arrive within this of the connection
    /// opening or of the first byte of a later request, else the connection closes (slowloris, stalled bodies), on
    /// both listeners. The edge refuses any declared body at once (413). Default 10 s.
    public var headTimeout: Duration = .seconds(10)
    /// `USHER_IDLE_TIMEOUT`: a keep-alive connection with no request in progress closes after this. Default 60 s.
    public var idleTimeout: Duration = .seconds(60)
    /// `USHER_MAX_CONNECTIONS`: open edge connections per process; a connection beyond is closed at once, before
    /// anything is read. Default 16384.
    public var maximumConnections: Int = 16_384

    /// `USHER_AUTH_REPORT_ONLY`: missing, invalid and out-of-scope tokens are counted and logged but still redirected
    /// (takedowns and share rules still apply). Default off.
    public var reportOnly: Bool = false
    /// `S3_CREDENTIALS_EXPIRE_AT` (Unix seconds or RFC 3339): when temporary credentials (`S3_SESSION_TOKEN`) stop
    /// working. Presigned URLs are cut to end by then; after it, private redirects answer 503. Default none.
    public var credentialsExpireAt: Int64?

    /// `USHER_TRUSTED_PROXY_HEADER` (e.g. `X-Forwarded-For`): where the client's IP is, for rate limits; the last
    /// address in it (the one the trusted proxy appended). Unset: the connection's peer address. Default none.
    public var trustedProxyHeader: String?

    /// `USHER_CORS_ORIGINS` (comma-separated origins, or `*`): the pages whose scripts may read `/v` and `/s`
    /// answers, preflights included. Default none: no CORS headers, and `OPTIONS` answers 405.
    public var cors: CORSPolicy?

    public init() {}
}
