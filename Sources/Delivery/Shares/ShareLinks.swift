public import NIOCore
import UsherCrypto

/// What the share chain knows about a code.
public enum ShareOutcome: Sendable, Equatable {
    case found(ShareRecord)
    case absent
    case unavailable
}

/// Share links (`/s/{code}`): creation, revocation and the per-visit read path.
///
/// Shares are never cached in-process: every visit reads Redis (then Postgres), so a revocation — which
/// overwrites the Redis entry after the database commit — stops the link on every instance at once. Uses of
/// a `max_uses` share are counted by Postgres in one guarded `UPDATE`, so concurrent visits cannot overshoot;
/// unlimited shares cost no database write per visit.
public final class ShareLinks: Sendable {
    public struct Configuration: Sendable {
        /// How long Redis keeps a share record. A writer overwrites it on revocation; the TTL only bounds how long a
        /// record written while a revocation's cache update failed can outlive it. Default 300 s.
        public var redisTTL: Int = 300
        /// How long Redis remembers an unknown code. Default 30 s.
        public var negativeTTL: Int = 30
        /// The longest share life the admin API accepts. Default 1 year.
        public var maximumTTL: Int = 31_536_000

        public init() {}
    }

    /// Why a share could not be created or revoked. Codes are stable labels.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public struct Code: Hashable, Sendable, CustomStringConvertible {
            fileprivate let name: String
            public var description: String { name }
            /// The database could not be reached: nothing changed.
            public static let unavailable = Code(name: "unavailable")
            /// The revocation is committed, but Redis could not be updated: retry so every instance sees it at once.
            public static let cacheNotUpdated = Code(name: "cacheNotUpdated")
        }

        public let code: Code
        public let message: String
        public var description: String { "ShareLinks.Failure.\(code): \(message)" }
    }

    /// Random bytes per code: 144 bits, as 24 base64url characters.
    static let codeBytes = 18

    public let configuration: Configuration
    let cache: any KeyValueCache
    let store: any ShareStorage

    public init(configuration: Configuration = .init(), cache: any KeyValueCache, store: any ShareStorage) {
        self.configuration = configuration
        self.cache = cache
        self.store = store
    }

    /// A code's shape: 22 to 64 of base64url's alphabet (`newCode` makes 24). Anything else is
    /// answered 404 without a lookup, so guessing costs no Redis or Postgres work.
    public static func isValidCode(_ code: some StringProtocol) -> Bool {
        let utf8 = code.utf8
        guard (22...64).contains(utf8.count) else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"):
                true
            default: false
            }
        }
    }

    /// Never starting with `-`, so a code is never taken for an option (`usher share revoke CODE`): drawing again
    /// when it does leaves more than 143 of the 144 bits.
    static func newCode() throws -> String {
        while true {
            let code = Base64URL.encode(try SecureRandom.bytes(codeBytes))
            if code.first != "-" { return code }
        }
    }

    /// nil when the generation does not exist.
    public func create(requestID: String, ttlSeconds: Int, maxUses: Int?) async throws(Failure) -> Share? {
        let share: Share?
        do {
            share = try await store.create(code: try Self.newCode(), requestID: requestID, ttlSeconds: ttlSeconds, maxUses: maxUses)
        } catch {
            throw Failure(code: .unavailable, message: "\(error)")
        }
        return share
    }

    /// nil when no share has this code. Revoking again is harmless.
    public func revoke(code: String) async throws(Failure) -> Share? {
        let share: Share?
        do {
            share = try await store.revoke(code: code)
        } catch {
            throw Failure(code: .unavailable, message: "\(error)")
        }
        guard let share else { return nil }
        // Overwrite rather than delete: a reader that saw the row before the commit fills with NX and loses.
        do {
            try await writeTombstone(RevokedShare(code: code, requestID: share.requestID, maxUses: share.maxUses))
        } catch {
            throw Failure(code: .cacheNotUpdated, message: "\(error)")
        }
        return share
    }

    /// After the shares were revoked with their generation: their cached records become tombstones. Best effort:
    /// a record missed here lives at most `redisTTL`, and the generation's takedown stops its visits meanwhile.
    func tombstone(_ revoked: [RevokedShare]) async {
        for share in revoked { try? await writeTombstone(share) }
    }

    private func writeTombstone(_ share: RevokedShare) async throws {
        let tombstone = ShareRecord(requestID: share.requestID, expiresAt: 0, revoked: true, maxUses: share.maxUses)
        try await cache.set(Self.cacheKey(share.code), tombstone.cacheValue, expireSeconds: configuration.redisTTL)
    }

    /// Redis, then Postgres (filling Redis); completes on `loop`.
    public func resolve(_ code: String, on loop: any EventLoop) -> EventLoopFuture<ShareOutcome> {
        cache.get(Self.cacheKey(code), on: loop).flatMap { value -> EventLoopFuture<ShareOutcome> in
            if let value {
                if value == CacheMarker.absent { return loop.makeSucceededFuture(.absent) }
                if let record = ShareRecord(cacheValue: value) { return loop.makeSucceededFuture(.found(record)) }
            }
            return self.readThrough(code, on: loop, fillRedis: true)
        }.flatMapError { _ in
            self.readThrough(code, on: loop, fillRedis: false)
        }
    }

    private func readThrough(_ code: String, on loop: any EventLoop, fillRedis: Bool) -> EventLoopFuture<ShareOutcome> {
        store.record(code, on: loop).hop(to: loop).map { found in
            if fillRedis {
                let (value, ttl) =
                    found.map { ($0.record.cacheValue, self.configuration.redisTTL) }
                    ?? (CacheMarker.absent, self.configuration.negativeTTL)
                _ = self.cache.set(Self.cacheKey(code), value, expireSeconds: ttl, onlyIfAbsent: true, on: loop)
            }
            return found.map { .found($0.record) } ?? .absent
        }.recover { _ in .unavailable }
    }

    /// Takes one use (GET or HEAD of a `max_uses` share); nil when the database could not answer.
    public func consume(_ code: String, on loop: any EventLoop) -> EventLoopFuture<Bool?> {
        store.consume(code, on: loop).hop(to: loop).map { Optional($0) }.recover { _ in nil }
    }

    static func cacheKey(_ code: String) -> [UInt8] { Array("usher:share:".utf8) + Array(code.utf8) }
}
