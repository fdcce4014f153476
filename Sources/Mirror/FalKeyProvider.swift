public import AsyncHTTPClient
import NIOHTTP1
import Foundation
public import Logging
import NIOCore
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
    private let cache = Mutex<(keys: [Ed25519PublicKey], fetched: ContinuousClock.Instant)?>(nil)
    private let lastForcedRefresh = Mutex<ContinuousClock.Instant?>(nil)
    static let maximumAge: Duration = .seconds(24 * 3600)
    static let minimumRefreshInterval: Duration = .seconds(60)

    public init(source: Source, httpClient: HTTPClient?, logger: Logger) {
        self.source = source
        self.httpClient = httpClient
        self.logger = logger
    }

    /// The cached keys, loading them when absent or older than a day.
    public func keys() async throws -> [Ed25519PublicKey] {
        if let cached = cache.withLock({ $0 }), ContinuousClock.now - cached.fetched < Self.maximumAge { return cached.keys }
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

    private func load() async throws -> [Ed25519PublicKey] {
        let document: Data
        switch source {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw MirrorError(.storage, permanent: false, "cannot read FAL_JWKS_FILE \(path)")
            }
            document = data
        case .urls(let urls):
            document = try await fetch(urls)
        }
        let keys = try Self.parse(document)
        cache.withLock { $0 = (keys, .now) }
        return keys
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
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let entries = object["keys"] as? [[String: Any]] else {
            throw MirrorError(.storage, permanent: false, "fal JWKS is not {\"keys\": [...]}")
        }
        let keys = entries.compactMap { entry -> Ed25519PublicKey? in
            guard let x = entry["x"] as? String, let raw = Base64URL.decode(x, allowPadding: true) else { return nil }
            return try? Ed25519PublicKey(rawRepresentation: raw)
        }
        guard !keys.isEmpty else { throw MirrorError(.storage, permanent: false, "fal JWKS holds no Ed25519 key") }
        return keys
    }
}
