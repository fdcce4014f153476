public import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import Synchronization
public import UsherCrypto

/// fal's webhook-signing keys: a local JWKS file (`FAL_JWKS_FILE`), or fal's JWKS URLs (`FAL_JWKS_URL`, then
/// the fallback), cached for at most 24 h and refetched early — at most once a minute — when a signature
/// verifies under none of the cached keys (fal rotated).
public final class FalKeyProvider: Sendable {
    public enum Source: Sendable {
        case file(String)
        case urls([String])
    }

    public static let defaultURLs = ["https://rest.fal.ai/.well-known/jwks.json", "https://rest.alpha.fal.ai/.well-known/jwks.json"]

    let source: Source
    let httpClient: HTTPClient?
    let logger: Logger
    private struct State {
        var keys: [Ed25519PublicKey]?
        var fetched: ContinuousClock.Instant?
        /// The one load in progress: concurrent callers wait for it rather than start their own (single flight).
        var inFlight: Task<[Ed25519PublicKey], any Error>?
        /// The last failed load: for `failureBackoff` after it, callers fail at once instead of fetching again,
        /// so a failing key endpoint is not hammered by a stream of webhooks.
        var failure: (at: ContinuousClock.Instant, message: String)?
    }

    private let state = Mutex(State())
    private let lastForcedRefresh = Mutex<ContinuousClock.Instant?>(nil)
    static let maximumAge: Duration = .seconds(24 * 3600)
    static let minimumRefreshInterval: Duration = .seconds(60)
    static let failureBackoff: Duration = .seconds(5)

    public init(source: Source, httpClient: HTTPClient?, logger: Logger) {
        self.source = source
        self.httpClient = httpClient
        self.logger = logger
    }

    /// The cached keys, loading them when absent or older than a day.
    public func keys() async throws -> [Ed25519PublicKey] {
        let cached = state.withLock { state -> [Ed25519PublicKey]? in
            guard let keys = state.keys, let fetched = state.fetched, ContinuousClock.now - fetched < Self.maximumAge else { return nil }
            return keys
        }
        if let cached { return cached }
        return try await load()
    }

    /// Fresh keys after a signature matched none; nil when a refresh happened less than a minute ago.
    public func refreshAfterUnknownSignature() async throws -> [Ed25519PublicKey]? {
        let now = ContinuousClock.now
        let allowed = lastForcedRefresh.withLock { last -> Bool in
            if let last, now - last < Self.minimumRefreshInterval { return false }
            last = now
            return true
        }
        guard allowed else { return nil }
        return try await load()
    }

    /// Joins the load in progress, or starts one; fails at once within `failureBackoff` of a failed load.
    private func load() async throws -> [Ed25519PublicKey] {
        let task = try state.withLock { state throws(MirrorError) -> Task<[Ed25519PublicKey], any Error> in
            if let inFlight = state.inFlight { return inFlight }
            if let failure = state.failure, ContinuousClock.now - failure.at < Self.failureBackoff {
                throw MirrorError(.sourceUnavailable, permanent: false, "fal's keys could not be loaded moments ago: \(failure.message)")
            }
            let task = Task { try await self.fetchAndRemember() }
            state.inFlight = task
            return task
        }
        return try await task.value
    }

    private func fetchAndRemember() async throws -> [Ed25519PublicKey] {
        do {
            let keys = try Self.parse(try await document())
            state.withLock { state in
                state = State(keys: keys, fetched: .now, inFlight: nil, failure: nil)
            }
            return keys
        } catch {
            state.withLock { state in
                state.inFlight = nil
                state.failure = (.now, "\(error)")
            }
            throw error
        }
    }

    private func document() async throws -> Data {
        switch source {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw MirrorError(.storage, permanent: false, "cannot read FAL_JWKS_FILE \(path)")
            }
            return data
        case .urls(let urls):
            return try await fetch(urls)
        }
    }

    private func fetch(_ urls: [String]) async throws -> Data {
        guard let httpClient else { throw MirrorError(.sourceUnavailable, permanent: false, "no HTTP client for the fal JWKS") }
        var failures: [String] = []
        for url in urls {
            do {
                let response = try await httpClient.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
                guard response.status == .ok else {
                    failures.append("\(url): HTTP \(response.status.code)")
                    continue
                }
                var buffer = try await response.body.collect(upTo: 1 << 20)
                return Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
            } catch {
                failures.append("\(url): \(error)")
            }
        }
        logger.error("cannot fetch fal's webhook keys", metadata: ["failures": "\(failures)"])
        throw MirrorError(.sourceUnavailable, permanent: false, "cannot fetch fal's JWKS: \(failures.joined(separator: "; "))")
    }

    /// `keys[].x` (base64url, padding tolerated) of every Ed25519 key in a JWKS.
    static func parse(_ data: Data) throws -> [Ed25519PublicKey] {
        /// Only `x` matters; a key without one (an RSA key, say) is skipped, not fatal.
        struct JWKS: Decodable {
            struct Key: Decodable { var x: String? }
            var keys: [Key]
        }
        guard let jwks = try? JSONDecoder().decode(JWKS.self, from: data) else {
            throw MirrorError(.storage, permanent: false, "fal JWKS is not {\"keys\": [...]}")
        }
        let keys = jwks.keys.compactMap { entry -> Ed25519PublicKey? in
            guard let x = entry.x, let raw = Base64URL.decode(x, allowPadding: true) else { return nil }
            return try? Ed25519PublicKey(rawRepresentation: raw)
        }
        guard !keys.isEmpty else { throw MirrorError(.storage, permanent: false, "fal JWKS holds no Ed25519 key") }
        return keys
    }
}
