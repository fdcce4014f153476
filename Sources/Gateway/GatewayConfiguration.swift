/// Settings of the edge (`/v`, `/s`). Filled from the environment by `usher serve`.
public struct GatewayConfiguration: Sendable {
    /// `PRESIGN_TTL`: lifetime of presigned URLs, 1…604800 s. Default 900.
    public var presignTTL: Int = 900
    /// `PUBLIC_BASE_URL`: where public videos are served unsigned (e.g. a CDN). Default none: public videos
    /// then get a presigned URL like private ones.
    public var publicBaseURL: String?
    /// `USHER_ORIGIN_FALLBACK`: redirect to `fal_url` while a video is not mirrored yet. Default off (503).
    public var originFallback: Bool = false
    /// Verified tokens remembered per event loop. Default 10,000.
    public var tokenCacheCapacity: Int = 10_000
    /// `Retry-After` for a video still being mirrored. Default 5 s.
    public var retryAfterNotReady: Int = 5
    /// `Retry-After` when Redis and Postgres both fail. Default 2 s.
    public var retryAfterUnavailable: Int = 2
    /// `Cache-Control: public, max-age` for public redirects. Default 3600.
    public var publicMaxAge: Int = 3600

    public init() {}
}
