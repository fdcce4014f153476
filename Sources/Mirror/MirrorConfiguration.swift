public import AsyncHTTPClient
public import Delivery
public import HostAddress
import NIOCore

/// Settings of the webhook intake and the mirror worker, with CONTRACT's defaults.
public struct MirrorConfiguration: Sendable {
    /// `MIRROR_ALLOWED_HOSTS` [fal.media,*.fal.media]: host names or IP literals, optionally `*.`-prefixed,
    /// optionally `:port`.
    public var allowedHosts: [HostPattern] = [HostPattern("fal.media")!, HostPattern("*.fal.media")!]
    /// `MIRROR_MAX_BYTES` [4 GiB].
    public var maximumBytes: Int64 = 4 << 30
    /// `MIRROR_ALLOW_INSECURE_LOCALHOST` [off]: lets tests mirror over http from 127.0.0.0/8.
    public var allowInsecureLocalhost = false
    /// Parts of a multipart upload (S3's minimum is 5 MiB). Default 8 MiB; smaller files go up in one PUT.
    public var partSize = 8 << 20
    /// Parts uploading at once while the download continues. Default 2 (memory ≈ (2 + 1) × part size).
    public var partsInFlight = 2
    /// Attempts before a job is FAILED. Default 8.
    public var maximumAttempts = 8
    /// First retry delay, doubling per attempt up to `maximumBackoff`, with ±20 % jitter. Defaults 2 s and 5 min.
    public var initialBackoff: Double = 2
    public var maximumBackoff: Double = 300
    /// A claimed job is held this long and renewed every third of it while working. Default 60 s.
    public var leaseSeconds = 60
    /// Jobs one worker process runs at once (`MIRROR_CONCURRENCY`). Default 2.
    public var concurrency = 2
    /// How long an idle worker waits before looking for due jobs again. Default 250 ms: a claim is one indexed
    /// query, and a webhook's job starts within a quarter second.
    public var pollInterval: Duration = .milliseconds(250)
    /// Give up on a source that sends nothing for this long. Default 30 s.
    public var readTimeout: Duration = .seconds(30)

    public init() {}

    /// Backoff before attempt `attempt + 1` (attempt counts from 1), jittered ±20 % and then capped, so no wait
    /// exceeds `maximumBackoff`.
    public func backoff(afterAttempt attempt: Int) -> Double {
        let base = initialBackoff * Double(1 << min(attempt - 1, 20))
        return min(maximumBackoff, base * Double.random(in: 0.8...1.2))
    }
}

extension HTTPClient.Configuration {
    /// What the mirror's client needs: no automatic redirects (each hop is checked against the allow-list),
    /// no decompression (bytes are stored as served), and a read timeout so a stalled source fails the attempt.
    public static func mirror(_ configuration: MirrorConfiguration) -> HTTPClient.Configuration {
        var http = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: .init(configuration.readTimeout)))
        http.decompression = .disabled
        return http
    }
}
