#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Logging
import Metrics
public import NIOCore
import NIOHTTP1
import Postgres
public import SigV4
import ViewerAuth

/// The edge's decisions, in CONTRACT order, independent of sockets: the handler asks, this answers.
///
/// Everything here runs on the connection's event loop; a request either answers at once (cached record,
/// health, errors) or after one future from the lookup chain that completes on the same loop.
public final class EdgeService: Sendable {
    enum Answer {
        case now(EdgeReply)
        case later(EventLoopFuture<EdgeReply>)

        func future(on loop: any EventLoop) -> EventLoopFuture<EdgeReply> {
            switch self {
            case .now(let reply): loop.makeSucceededFuture(reply)
            case .later(let future): future
            }
        }
    }

    let configuration: GatewayConfiguration
    let presigner: Presigner
    let publicURLs: PublicURLBuilder?
    let keys: ViewerKeys
    let lookup: GenerationLookup
    let shares: ShareLinks
    let revocations: Revocations
    let readiness: Readiness
    private let reportOnly: ReportOnlyLog
    private let presigns = Counter(label: "usher_presigns_total")
    private let tokenCaches: [ObjectIdentifier: LoopBound<TokenCache>]
    private let group: any EventLoopGroup

    public init(
        configuration: GatewayConfiguration, presigner: Presigner, keys: ViewerKeys, lookup: GenerationLookup, shares: ShareLinks,
        revocations: Revocations, rateLimiter: RateLimiter, readiness: Readiness, group: any EventLoopGroup, logger: Logger
    ) {
        self.rateLimiter = rateLimiter
        self.revocations = revocations
        self.reportOnly = ReportOnlyLog(logger: logger)
        self.configuration = configuration
        self.presigner = presigner
        self.publicURLs = configuration.publicBaseURL.map(PublicURLBuilder.init(baseURL:))
        self.keys = keys
        self.lookup = lookup
        self.shares = shares
        self.readiness = readiness
        self.group = group
        var caches: [ObjectIdentifier: LoopBound<TokenCache>] = [:]
        for loop in group.makeIterator() {
            caches[ObjectIdentifier(loop)] = LoopBound(TokenCache(capacity: configuration.tokenCacheCapacity), eventLoop: loop)
        }
        self.tokenCaches = caches
    }

    static func unixNow() -> Int64 { Int64(time(nil)) }

    let rateLimiter: RateLimiter

    /// `peer`: the connection's remote IP address, for rate limits (a trusted proxy header replaces it when configured).
    func answer(method: HTTPMethod, uri: String, headers: HTTPHeaders, peer: String?, on loop: any EventLoop) -> Answer {
        guard uri.utf8.count <= EdgeRequest.maximumURILength else { return .now(.problem(.uriTooLong)) }
        let (route, query) = EdgeRequest.parse(uri: uri)
        var client: String?
        if rateLimiter.isEnabled {
            client = EdgeRequest.clientAddress(headers: headers, trustedHeader: configuration.trustedProxyHeader, peer: peer)
            // In-process, the IP is checked before any token work, so a flood of forged tokens is cut early.
            if !rateLimiter.configuration.shared, route.isLimited, let limited = rateLimited(keys: client.map { ["ip:" + $0] } ?? []) {
                return .now(limited)
            }
        }
        switch route {
        case .healthz:
            return .now(.text(.ok, "ok\n"))
        case .readyz:
            return .later(readiness.check(on: loop).map { status in
                .text(status.ready ? .ok : .serviceUnavailable, "redis: \(status.redis ? "up" : "down")\npostgres: \(status.postgres ? "up" : "down")\n")
            })
        case .unknown:
            return .now(.problem(.unknownRoute))
        case .malformedID:
            return .now(.problem(.notFound))
        case .share(let code):
            guard method == .GET || method == .HEAD else { return .now(.problem(.methodNotAllowed, extraHeaders: [("Allow", "GET, HEAD")])) }
            guard ShareLinks.isValidCode(code) else { return .now(.problem(.shareNotFound)) }
            if rateLimiter.configuration.shared && rateLimiter.isEnabled {
                return .later(rateLimiter.take(ip: client, subject: nil, now: Self.preciseNow(), on: loop).flatMap { decision in
                    if case .limited(let retryAfter) = decision { return loop.makeSucceededFuture(Self.tooManyRequests(retryAfter)) }
                    return self.share(String(code), counting: method == .GET, query: query, on: loop).future(on: loop)
                })
            }
            return share(String(code), counting: method == .GET, query: query, on: loop)
        case .video(let id):
            guard method == .GET || method == .HEAD else { return .now(.problem(.methodNotAllowed, extraHeaders: [("Allow", "GET, HEAD")])) }
            return video(String(id), query: query, headers: headers, client: client, on: loop)
        }
    }

    private func video(_ id: String, query: Substring, headers: HTTPHeaders, client: String?, on loop: any EventLoop) -> Answer {
        let now = Self.unixNow()
        let token = EdgeRequest.token(authorization: headers.first(name: "authorization"), query: query, cookie: headers.first(name: "cookie"))
        var grant: ViewerGrant?
        if let token {
            // A forged token costs no lookup: refuse it before touching Redis or Postgres.
            if let verified = verify(token, now: now, on: loop), !revocations.revokes(verified, now: now) {
                grant = verified
            } else if configuration.reportOnly {
                reportOnly.record(.invalidToken, id: id)
            } else {
                return .now(.problem(.invalidToken, extraHeaders: [("WWW-Authenticate", #"Bearer realm="usher", error="invalid_token""#)]))
            }
        }
        let download = EdgeRequest.download(query)
        if rateLimiter.isEnabled {
            if rateLimiter.configuration.shared {
                let verifiedGrant = grant
                return .later(rateLimiter.take(ip: client, subject: grant?.subject, now: Self.preciseNow(), on: loop).flatMap { decision in
                    if case .limited(let retryAfter) = decision { return loop.makeSucceededFuture(Self.tooManyRequests(retryAfter)) }
                    return self.deliver(id, grant: verifiedGrant, download: download, now: now, on: loop).future(on: loop)
                })
            }
            if let subject = grant?.subject, let limited = rateLimited(keys: ["sub:" + subject]) { return .now(limited) }
        }
        return deliver(id, grant: grant, download: download, now: now, on: loop)
    }

    private func deliver(_ id: String, grant: ViewerGrant?, download: EdgeRequest.Download, now: Int64, on loop: any EventLoop) -> Answer {
        if let outcome = lookup.cached(id, on: loop) {
            return .now(decide(outcome, id: id, grant: grant, download: download, now: now))
        }
        return .later(lookup.resolve(id, on: loop).map { outcome in
            self.decide(outcome, id: id, grant: grant, download: download, now: Self.unixNow())
        })
    }

    private func rateLimited(keys: [String]) -> EdgeReply? {
        guard !keys.isEmpty, case .limited(let retryAfter) = rateLimiter.takeLocally(keys, now: Self.preciseNow()) else { return nil }
        return Self.tooManyRequests(retryAfter)
    }

    static func tooManyRequests(_ retryAfter: Int) -> EdgeReply {
        .problem(.rateLimited, extraHeaders: [("Retry-After", String(retryAfter))])
    }

    static func preciseNow() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    private func verify(_ token: Substring, now: Int64, on loop: any EventLoop) -> ViewerGrant? {
        let (verifier, generation) = keys.snapshot
        let signature = token.utf8.lastIndex(of: UInt8(ascii: ".")).map { token[token.utf8.index(after: $0)...] } ?? token
        guard let bound = tokenCaches[ObjectIdentifier(loop)] else {
            return try? verifier.verify(String(token), now: now).get()
        }
        let cache = bound.value
        if cache.generation != generation {
            cache.removeAll()
            cache.generation = generation
        }
        if let grant = cache.grant(for: token, signature: signature, now: now) { return grant }
        let copy = String(token)
        guard case .success(let grant) = verifier.verify(copy, now: now) else { return nil }
        cache.store(grant, token: copy, validUntil: grant.expiresAt + verifier.leeway, now: now)
        return grant
    }

    private func decide(_ outcome: LookupOutcome, id: String, grant: ViewerGrant?, download: EdgeRequest.Download, now: Int64) -> EdgeReply {
        let record: DeliveryRecord
        switch outcome {
        case .unavailable: return dependencyDown
        case .absent: return .problem(.notFound)
        case .found(let found): record = found
        }
        if record.visibility == .private {
            if let grant {
                if !grant.covers(videoID: id, owner: record.owner) {
                    guard configuration.reportOnly else { return .problem(.forbidden) }
                    reportOnly.record(.notInScope, id: id)
                }
            } else if configuration.reportOnly {
                reportOnly.record(.missingToken, id: id)
            } else {
                return .problem(.missingToken, extraHeaders: [("WWW-Authenticate", #"Bearer realm="usher""#)])
            }
        }
        // After the lookup and the token checks (CONTRACT order): an unknown id stays a 404 and a private video an
        // unauthenticated 401, whatever else is true of it.
        if revocations.takesDown(id, now: now) { return .problem(.gone) }
        if download == .invalid { return .problem(.badDownload) }
        if let refusal = undeliverable(record) { return refusal }
        return redirect(to: record, download: download, ttl: configuration.presignTTL, now: now, shared: false)
    }

    private var dependencyDown: EdgeReply {
        .problem(.dependencyDown, extraHeaders: [("Retry-After", String(configuration.retryAfterUnavailable))])
    }

    /// `/s/{code}`: share → generation → (a use, for GET of a `max_uses` share) → 302 that lives no longer than the share.
    /// The use is taken last, so a visit answered 503 (not mirrored yet, database down) costs none.
    private func share(_ code: String, counting: Bool, query: Substring, on loop: any EventLoop) -> Answer {
        let download = EdgeRequest.download(query)
        if download == .invalid { return .now(.problem(.badDownload)) }
        return .later(shares.resolve(code, on: loop).flatMap { outcome -> EventLoopFuture<EdgeReply> in
            let share: ShareRecord
            switch outcome {
            case .unavailable: return loop.makeSucceededFuture(self.dependencyDown)
            case .absent: return loop.makeSucceededFuture(.problem(.shareNotFound))
            case .found(let found): share = found
            }
            let now = Self.unixNow()
            guard !share.revoked, now < share.expiresAt else { return loop.makeSucceededFuture(.problem(.shareGone)) }
            if self.revocations.takesDown(share.requestID, now: now) { return loop.makeSucceededFuture(.problem(.gone)) }
            let generation = self.lookup.cached(share.requestID, on: loop).map { loop.makeSucceededFuture($0) }
                ?? self.lookup.resolve(share.requestID, on: loop)
            return generation.flatMap { outcome -> EventLoopFuture<EdgeReply> in
                let record: DeliveryRecord
                switch outcome {
                case .unavailable: return loop.makeSucceededFuture(self.dependencyDown)
                // The generation was deleted under the share.
                case .absent: return loop.makeSucceededFuture(.problem(.gone))
                case .found(let found): record = found
                }
                if let refusal = self.undeliverable(record) { return loop.makeSucceededFuture(refusal) }
                let granted: EventLoopFuture<Bool?> =
                    share.maxUses == nil
                    ? loop.makeSucceededFuture(true)
                    : counting ? self.shares.consume(code, on: loop) : self.shares.hasUsesLeft(code, on: loop)
                return granted.map { granted in
                    guard let granted else { return self.dependencyDown }
                    guard granted else { return .problem(.shareGone) }
                    let now = Self.unixNow()
                    let ttl = Int(min(Int64(self.configuration.presignTTL), share.expiresAt - now))
                    guard ttl > 0 else { return .problem(.shareGone) }
                    return self.redirect(to: record, download: download, ttl: ttl, now: now, shared: true)
                }
            }
        })
    }

    /// Status checks shared by `/v` and `/s`: nil when the record can be delivered.
    private func undeliverable(_ record: DeliveryRecord) -> EdgeReply? {
        switch record.status {
        case .pending, .mirroring:
            if configuration.originFallback, let falURL = record.falURL, falURL.hasPrefix("https://"),
                !falURL.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F })
            {
                return .redirect(to: falURL, caching: .noStore)
            }
            return .problem(.notReady, extraHeaders: [("Retry-After", String(configuration.retryAfterNotReady))])
        case .failed:
            return .problem(.gone)
        case .completed:
            return record.objectKey == nil ? .problem(.gone) : nil
        }
    }

    /// The 302 to the object. A share's redirect is `no-store`: a revoked share must stop at once, even behind a cache.
    private func redirect(to record: DeliveryRecord, download: EdgeRequest.Download, ttl: Int, now: Int64, shared: Bool) -> EdgeReply {
        guard let key = record.objectKey else { return .problem(.gone) }
        var overrides = ResponseOverrides.none
        if case .attachment(let filename) = download {
            overrides = .attachment(filename: filename ?? String(key.split(separator: "/").last ?? Substring(key)))
        }
        if record.visibility == .public, let publicURLs, overrides == .none {
            return .redirect(to: publicURLs.url(key: key), caching: shared ? .noStore : .publicMaxAge(configuration.publicMaxAge))
        }
        // Temporary credentials: no URL may outlive them (it would stop working at their expiry).
        var ttl = ttl
        if let credentialsExpireAt = configuration.credentialsExpireAt {
            ttl = Int(min(Int64(ttl), credentialsExpireAt - now))
            guard ttl > 0 else { return dependencyDown }
        }
        // A share's URL must end with the share: it is signed at `now`, outside the signing window (CONTRACT § /s).
        guard let presigned = try? presigner.presignedGET(key: key, ttl: ttl, now: now, overrides: overrides, bucketed: !shared) else {
            return .problem(.gone)
        }
        presigns.increment()
        return .redirect(to: presigned.url, caching: shared ? .noStore : .privateMaxAge(max(0, Int(presigned.expiresAt - now) - 60)))
    }
}

extension EdgeRoute {
    /// The routes rate limits apply to (health checks never are).
    var isLimited: Bool {
        switch self {
        case .video, .share: true
        case .healthz, .readyz, .unknown, .malformedID: false
        }
    }
}

/// `USHER_AUTH_REPORT_ONLY`: auth failures that were let through, counted by reason and logged (id and reason only,
/// never the token), so token checks can be rolled out on players that do not send tokens yet.
struct ReportOnlyLog: Sendable {
    enum Reason: String, Sendable {
        case missingToken = "missing_token"
        case invalidToken = "invalid_token"
        case notInScope = "not_in_scope"
    }

    let logger: Logger
    private let counters: [Reason: Counter] = [
        .missingToken: Counter(label: "usher_auth_report_only_total", dimensions: [("reason", "missing_token")]),
        .invalidToken: Counter(label: "usher_auth_report_only_total", dimensions: [("reason", "invalid_token")]),
        .notInScope: Counter(label: "usher_auth_report_only_total", dimensions: [("reason", "not_in_scope")]),
    ]

    init(logger: Logger) { self.logger = logger }

    func record(_ reason: Reason, id: String) {
        counters[reason]?.increment()
        logger.notice("report-only: let through a request that would be refused", metadata: ["reason": "\(reason.rawValue)", "id": "\(id)"])
    }
}
