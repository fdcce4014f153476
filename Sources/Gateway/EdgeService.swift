public import Delivery
import HostAddress
public import Logging
import Metrics
public import NIOCore
import NIOHTTP1
public import SigV4
import ViewerAuth

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The edge's decisions, in CONTRACT order, independent of sockets: the handler asks, this answers.
///
/// Everything here runs on the connection's event loop; a request either answers at once (cached record,
/// health, errors) or after one future from the lookup chain that completes on the same loop.
public final class EdgeService: EdgeResponder, Sendable {
    typealias Answer = EdgeAnswer

    let configuration: GatewayConfiguration
    let presigner: Presigner
    let publicURLs: PublicURLBuilder?
    let keys: ViewerKeys
    let lookup: GenerationLookup
    let shares: ShareLinks
    let revocations: Revocations
    let readiness: Readiness
    /// nil: plays are not counted (tests of the decisions alone).
    let plays: Plays?
    private let reportOnly: ReportOnlyLog
    /// Presigned URLs handed out, a windowed URL served again included: the dashboard reads it as signed redirects.
    private let presigns = Counter(label: "usher_presigns_total")
    private let tokenCaches: [ObjectIdentifier: LoopBound<TokenCache>]
    /// Empty without `PRESIGN_WINDOW`, so that a `/v` then skips the probe (looking the table up cost 2 retains and
    /// 2 releases per request).
    let windowedURLs: [ObjectIdentifier: LoopBound<WindowedURLs>]
    private let group: any EventLoopGroup

    public init(
        configuration: GatewayConfiguration, presigner: Presigner, keys: ViewerKeys, lookup: GenerationLookup, shares: ShareLinks,
        revocations: Revocations, rateLimiter: RateLimiter, readiness: Readiness, plays: Plays? = nil, group: any EventLoopGroup, logger: Logger
    ) {
        self.plays = plays
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
        var urls: [ObjectIdentifier: LoopBound<WindowedURLs>] = [:]
        for loop in group.makeIterator() {
            caches[ObjectIdentifier(loop)] = LoopBound(TokenCache(capacity: configuration.tokenCacheCapacity), eventLoop: loop)
            if presigner.signingWindow > 0 {
                urls[ObjectIdentifier(loop)] = LoopBound(WindowedURLs(capacity: configuration.windowedURLCapacity), eventLoop: loop)
            }
        }
        self.tokenCaches = caches
        self.windowedURLs = urls
    }

    static func unixNow() -> Int64 { Int64(time(nil)) }

    let rateLimiter: RateLimiter

    /// Rate limits key on the client's address, and a tokenless play's viewer is its address and User-Agent.
    var needsPeerAddress: Bool { rateLimiter.isEnabled || plays != nil }

    /// `peer`: the connection's remote IP address, for rate limits (a trusted proxy header replaces it when configured).
    /// `reply` takes the answer when it is `.pending` (see `EdgeAnswer`).
    func answer(_ request: EdgeRequestHead, peer: SocketAddress?, on loop: any EventLoop, reply: @escaping EdgeReplyCallback) -> Answer {
        let uri = request.uri
        guard uri.utf8.count <= EdgeRequest.maximumURILength else { return .now(.problem(.uriTooLong)) }
        let (route, query) = EdgeRequest.parse(uri: uri)
        guard let cors = configuration.cors, route.servesVideo else {
            return limitedAnswer(route, request: request, query: query, peer: peer, on: loop, reply: PendingReply(reply))
        }
        let grant = cors.grant(origin: request.value(.origin), credentialed: request.contains(.cookie))
        if request.isOPTIONS { return .now(cors.preflight(grant)) }
        switch limitedAnswer(route, request: request, query: query, peer: peer, on: loop, reply: PendingReply(reply, cors: grant)) {
        case .now(var reply):
            reply.cors = grant
            return .now(reply)
        case .pending:
            return .pending
        case .later(let future):
            // A failed lookup is answered 503 here rather than by the handler, so that it carries the grant too.
            return .later(
                future.recover { _ in self.dependencyDown }.map { reply in
                    var reply = reply
                    reply.cors = grant
                    return reply
                })
        }
    }

    /// The answer as a future, however it is given: for tests, which chain one.
    func reply(to request: EdgeRequestHead, peer: SocketAddress?, on loop: any EventLoop) -> EventLoopFuture<EdgeReply> {
        Answer.future(on: loop) { answer(request, peer: peer, on: loop, reply: $0) }
    }

    private func limitedAnswer(
        _ route: EdgeRoute, request: EdgeRequestHead, query: Substring, peer: SocketAddress?, on loop: any EventLoop,
        reply: PendingReply
    ) -> Answer {
        // The client's IP bucket comes before any token work, in every mode, so a flood of forged tokens costs
        // one bucket check each, not a signature check.
        if rateLimiter.isEnabled, route.isLimited,
            let client = EdgeRequest.clientAddress(forwarded: request.value(.trustedProxy), peer: peer?.ipAddress)
        {
            if rateLimiter.configuration.shared {
                return .later(
                    rateLimiter.take("ip:" + client, now: Self.preciseNow(), on: loop).flatMap { decision in
                        if case .limited(let retryAfter) = decision { return loop.makeSucceededFuture(Self.tooManyRequests(retryAfter)) }
                        return Answer.future(on: loop) {
                            self.route(route, request: request, query: query, peer: peer, on: loop, reply: PendingReply($0))
                        }
                    })
            }
            if case .limited(let retryAfter) = rateLimiter.takeLocally("ip:" + client, now: Self.preciseNow()) {
                return .now(Self.tooManyRequests(retryAfter))
            }
        }
        return self.route(route, request: request, query: query, peer: peer, on: loop, reply: reply)
    }

    private func route(
        _ route: EdgeRoute, request: EdgeRequestHead, query: Substring, peer: SocketAddress?, on loop: any EventLoop,
        reply: PendingReply
    ) -> Answer {
        let isGET = request.isGET
        // OPTIONS, the one other method the decoder lets through (for CORS preflights on /v and /s).
        let readsOnly = isGET || request.isHEAD
        if !readsOnly, route == .healthz || route == .readyz { return .now(.methodNotAllowed) }
        switch route {
        case .healthz:
            return .now(.text(.ok, "ok\n"))
        case .readyz:
            return .later(
                readiness.check(on: loop).map { status in
                    .text(status.ready ? .ok : .serviceUnavailable, status.text)
                })
        case .unknown:
            return .now(.problem(.unknownRoute))
        case .malformedID:
            return .now(.problem(.notFound))
        case .share(let code):
            guard readsOnly else { return .now(.methodNotAllowed) }
            guard ShareLinks.isValidCode(code) else { return .now(.problem(.shareNotFound)) }
            return share(String(code), query: query, play: isGET ? Play(request: request, peer: peer) : nil, on: loop)
        case .video(let id):
            guard readsOnly else { return .now(.methodNotAllowed) }
            return video(id, query: query, request: request, play: isGET ? Play(request: request, peer: peer) : nil, on: loop, reply: reply)
        }
    }

    /// A GET that may become a play: what identifies its viewer when it carries no token with a `sub`, read only
    /// then.
    struct Play {
        let request: EdgeRequestHead
        let peer: SocketAddress?
    }

    private func recordPlay(_ reply: EdgeReply, id: Substring, shareCode: String?, subject: String?, play: Play?, on loop: any EventLoop) {
        guard let plays, let play, reply.status == .found else { return }
        let client =
            subject == nil
            ? EdgeRequest.clientAddress(forwarded: play.request.value(.trustedProxy), peer: play.peer?.ipAddress) : nil
        plays.record(
            requestID: id, shareCode: shareCode, subject: subject, client: client,
            userAgent: subject == nil ? play.request.value(.userAgent) : nil, now: Self.unixNow(), on: loop)
    }

    private func video(
        _ id: Substring, query: Substring, request: EdgeRequestHead, play: Play?, on loop: any EventLoop, reply: PendingReply
    ) -> Answer {
        let now = Self.unixNow()
        let token = EdgeRequest.token(authorization: request.value(.authorization), query: query, cookie: request.value(.cookie))
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
        if rateLimiter.isEnabled, let subject = grant?.subject {
            if rateLimiter.configuration.shared {
                let verifiedGrant = grant
                return .later(
                    rateLimiter.take("sub:" + subject, now: Self.preciseNow(), on: loop).flatMap { decision in
                        if case .limited(let retryAfter) = decision { return loop.makeSucceededFuture(Self.tooManyRequests(retryAfter)) }
                        return Answer.future(on: loop) {
                            self.deliver(id, grant: verifiedGrant, download: download, now: now, play: play, on: loop, reply: PendingReply($0))
                        }
                    })
            }
            if case .limited(let retryAfter) = rateLimiter.takeLocally("sub:" + subject, now: Self.preciseNow()) {
                return .now(Self.tooManyRequests(retryAfter))
            }
        }
        return deliver(id, grant: grant, download: download, now: now, play: play, on: loop, reply: reply)
    }

    /// The answer to a `/v` whose token checks passed, counted as a play when it is a 302 and `play` is set
    /// (CONTRACT § Plays: HEAD, errors and preflights are not). Decided and counted in one step, inside the lookup's
    /// own callback, which passes the answer to `reply`: a lookup that waits for Redis makes no future on the way.
    private func deliver(
        _ id: Substring, grant: ViewerGrant?, download: EdgeRequest.Download, now: Int64, play: Play?, on loop: any EventLoop,
        reply: PendingReply
    ) -> Answer {
        if let outcome = lookup.cached(id, on: loop) {
            let reply = decide(outcome, id: id, grant: grant, download: download, now: now, on: loop)
            recordPlay(reply, id: id, shareCode: nil, subject: grant?.subject, play: play, on: loop)
            return .now(reply)
        }
        lookup.resolve(id, on: loop) { outcome in
            let answer = self.decide(outcome, id: id, grant: grant, download: download, now: Self.unixNow(), on: loop)
            self.recordPlay(answer, id: id, shareCode: nil, subject: grant?.subject, play: play, on: loop)
            reply.send(answer)
        }
        return .pending
    }

    /// Where a `.pending` answer goes: the handler's callback, with the CORS grant the request was given, if any
    /// (set on the reply here, so that a CORS-enabled edge makes no wrapping closure per request).
    struct PendingReply: Sendable {
        let callback: EdgeReplyCallback
        let cors: CORSGrant?

        init(_ callback: @escaping EdgeReplyCallback, cors: CORSGrant? = nil) {
            self.callback = callback
            self.cors = cors
        }

        func send(_ reply: EdgeReply) {
            guard let cors else { return callback(reply) }
            var reply = reply
            reply.cors = cors
            callback(reply)
        }
    }

    static func tooManyRequests(_ retryAfter: Int) -> EdgeReply {
        .problem(.rateLimited, extraHeaders: [("Retry-After", String(retryAfter))])
    }

    static func preciseNow() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// A token in the loop's cache is answered from it with one atomic read of the keys' generation; only a token
    /// not seen yet takes the keys' lock and a signature check.
    private func verify(_ token: Substring, now: Int64, on loop: any EventLoop) -> ViewerGrant? {
        guard let bound = tokenCaches[ObjectIdentifier(loop)] else {
            return try? keys.snapshot.verifier.verify(String(token), now: now).get()
        }
        let cache = bound.value
        let generation = keys.generation
        if cache.generation != generation {
            cache.removeAll()
            cache.generation = generation
        }
        if let grant = cache.grant(for: token, signature: TokenCache.signature(of: token), now: now) { return grant }
        let (verifier, verifiedGeneration) = keys.snapshot
        let copy = String(token)
        guard case .success(let grant) = verifier.verify(copy, now: now) else { return nil }
        // Keys swapped since the generation was read: the grant is right (made with the new keys) but is not kept
        // under the old generation; the next request sees the new one and starts the cache afresh.
        if verifiedGeneration == generation {
            cache.store(grant, token: copy, validUntil: grant.expiresAt + verifier.leeway, now: now)
        }
        return grant
    }

    private func decide(
        _ outcome: LookupOutcome, id: Substring, grant: ViewerGrant?, download: EdgeRequest.Download, now: Int64, on loop: any EventLoop
    ) -> EdgeReply {
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
        // unauthenticated 401, whatever else is true of it. Without the revocation list, nothing is handed out.
        guard revocations.hasLoaded else { return dependencyDown }
        if revocations.takesDown(id, now: now) { return .problem(.gone) }
        if download == .invalid { return .problem(.badDownload) }
        if let refusal = undeliverable(record) { return refusal }
        return redirect(to: record, download: download, ttl: configuration.presignTTL, now: now, shared: false, on: loop)
    }

    var dependencyDown: EdgeReply {
        .dependencyDown(retryAfter: configuration.retryAfterUnavailable)
    }

    /// `/s/{code}`: share → generation → (a use, for GET or HEAD of a `max_uses` share) → 302 that lives no longer than
    /// the share. A HEAD hands out the same working URL as a GET, so it takes a use too: otherwise a one-time link
    /// would give out unlimited URLs by HEAD. The use is taken last, so a visit answered 503 (not mirrored yet,
    /// database down) costs none.
    private func share(_ code: String, query: Substring, play: Play?, on loop: any EventLoop) -> Answer {
        let download = EdgeRequest.download(query)
        if download == .invalid { return .now(.problem(.badDownload)) }
        return .later(
            shares.resolve(code, on: loop).flatMap { outcome -> EventLoopFuture<EdgeReply> in
                let share: ShareRecord
                switch outcome {
                case .unavailable: return loop.makeSucceededFuture(self.dependencyDown)
                case .absent: return loop.makeSucceededFuture(.problem(.shareNotFound))
                case .found(let found): share = found
                }
                let now = Self.unixNow()
                guard !share.revoked, now < share.expiresAt else { return loop.makeSucceededFuture(.problem(.shareGone)) }
                guard self.revocations.hasLoaded else { return loop.makeSucceededFuture(self.dependencyDown) }
                if self.revocations.takesDown(share.requestID, now: now) { return loop.makeSucceededFuture(.problem(.gone)) }
                let generation =
                    self.lookup.cached(share.requestID[...], on: loop).map { loop.makeSucceededFuture($0) }
                    ?? self.lookup.resolve(share.requestID, on: loop)
                return generation.flatMap { outcome -> EventLoopFuture<EdgeReply> in
                    let record: DeliveryRecord
                    switch outcome {
                    case .unavailable: return loop.makeSucceededFuture(self.dependencyDown)
                    // The generation was deleted under the share.
                    case .absent: return loop.makeSucceededFuture(.problem(.gone))
                    case .found(let found): record = found
                    }
                    if let refusal = self.undeliverable(record) {
                        // The origin fallback's 302 is a play too.
                        self.recordPlay(refusal, id: share.requestID[...], shareCode: code, subject: nil, play: play, on: loop)
                        return loop.makeSucceededFuture(refusal)
                    }
                    let granted: EventLoopFuture<Bool?> =
                        share.maxUses == nil ? loop.makeSucceededFuture(true) : self.shares.consume(code, on: loop)
                    return granted.map { granted in
                        guard let granted else { return self.dependencyDown }
                        guard granted else { return .problem(.shareGone) }
                        let now = Self.unixNow()
                        let ttl = Int(min(Int64(self.configuration.presignTTL), share.expiresAt - now))
                        guard ttl > 0 else { return .problem(.shareGone) }
                        let reply = self.redirect(to: record, download: download, ttl: ttl, now: now, shared: true, on: loop)
                        self.recordPlay(reply, id: share.requestID[...], shareCode: code, subject: nil, play: play, on: loop)
                        return reply
                    }
                }
            })
    }

    /// Status checks shared by `/v` and `/s`: nil when the record can be delivered.
    private func undeliverable(_ record: DeliveryRecord) -> EdgeReply? {
        switch record.status {
        case .pending, .mirroring:
            // Only to fal's own hosts: a webhook's URL must not turn the edge into an open redirect.
            if configuration.originFallback, let falURL = record.falURL, let authority = URLAuthority(falURL), authority.scheme == "https",
                configuration.originFallbackHosts.contains(where: { $0.matches(host: authority.host, port: authority.port) }),
                !falURL.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F })
            {
                return .redirect(to: falURL, caching: .noStore)
            }
            return .problem(.notReady, extraHeaders: [("Retry-After", String(configuration.retryAfterNotReady))])
        case .failed, .deleted:
            return .problem(.gone)
        case .completed:
            return record.objectKey == nil ? .problem(.gone) : nil
        }
    }

    /// The 302 to the object. A share's redirect is `no-store`: a revoked share must stop at once, even behind a cache.
    private func redirect(
        to record: DeliveryRecord, download: EdgeRequest.Download, ttl: Int, now: Int64, shared: Bool, on loop: any EventLoop
    ) -> EdgeReply {
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
        // The window's URL, signed once per window and object (WindowedURLs): for a plain `/v` whose TTL is the
        // configured one (temporary credentials near their end cut it).
        let windowed =
            windowedURLs.isEmpty || shared || overrides != .none || ttl != configuration.presignTTL
            ? nil : windowedURLs[ObjectIdentifier(loop)]?.value
        // A share's URL must end with the share: it is signed at `now`, outside the signing window (CONTRACT § /s).
        let signingTime = presigner.signingTime(at: now, bucketed: !shared)
        let kept = windowed?.url(key: key, signingTime: signingTime)
        guard var presigned = kept ?? (try? presigner.presignedGET(key: key, ttl: ttl, now: now, overrides: overrides, bucketed: !shared))
        else {
            return .problem(.gone)
        }
        // A windowed URL lives up to the window longer than the TTL: near the credentials' expiry, sign at `now`.
        if let credentialsExpireAt = configuration.credentialsExpireAt, presigned.expiresAt > credentialsExpireAt {
            guard let exact = try? presigner.presignedGET(key: key, ttl: ttl, now: now, overrides: overrides, bucketed: false) else {
                return .problem(.gone)
            }
            presigned = exact
        } else if kept == nil, let windowed {
            windowed.store(presigned, key: key, signingTime: signingTime)
        }
        presigns.increment()
        return .redirect(to: presigned.url, caching: shared ? .noStore : .privateMaxAge(max(0, Int(presigned.expiresAt - now) - 60)))
    }
}

extension EdgeRoute {
    /// `/v/…` and `/s/…`, malformed ids included: the answers CORS applies to, errors included.
    var servesVideo: Bool {
        switch self {
        case .video, .share, .malformedID: true
        case .healthz, .readyz, .unknown: false
        }
    }

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

    func record(_ reason: Reason, id: Substring) {
        counters[reason]?.increment()
        logger.notice("report-only: let through a request that would be refused", metadata: ["reason": "\(reason.rawValue)", "id": "\(id)"])
    }
}
