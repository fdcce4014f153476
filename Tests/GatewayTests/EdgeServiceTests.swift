import Delivery
import DeliveryTesting
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Postgres
import Redis
import SigV4
import Testing
import UsherCrypto
import ViewerAuth

@_spi(Fuzzing) @testable import Gateway

/// The edge's decisions in CONTRACT order, with no socket and no stack: `EdgeService` over the in-memory stores.
/// (The same decisions against the real servers are `GatewayIntegrationTests`.)
@Suite struct EdgeServiceTests {
    struct Edge {
        let fixture: DeliveryFixture
        let service: EdgeService
        let minter: ViewerTokenMinter

        init(publicBaseURL: String? = nil, cors: CORSPolicy? = nil) async throws {
            let fixture = DeliveryFixture()
            let logger = Logger(label: "edge-service-test")
            let jwks = #"{"keys":[{"kty":"oct","kid":"k1","k":"\#(Base64URL.encode(try SecureRandom.bytes(32)))"}]}"#
            let keySet = try ViewerKeySet(jwks: Array(jwks.utf8))
            var configuration = GatewayConfiguration()
            configuration.publicBaseURL = publicBaseURL
            configuration.cors = cors
            let s3 = try S3Configuration(
                endpoint: try S3Endpoint("http://127.0.0.1:9"), bucket: "videos",
                credentials: S3Credentials(accessKeyID: "id", secretAccessKey: "secret"))
            // `/readyz` is not asked here: its clients point where nothing listens.
            let readiness = Readiness(
                redis: try RedisClient(url: "redis://127.0.0.1:1/0", group: fixture.group, logger: logger),
                postgres: PQClient(configuration: PostgresConfiguration(url: "postgres://usher@127.0.0.1:1/usher"), logger: logger))
            try await fixture.revocations.reload()
            self.fixture = fixture
            self.minter = ViewerTokenMinter(key: keySet.keys[0])
            self.service = EdgeService(
                configuration: configuration, presigner: try Presigner(configuration: s3), keys: ViewerKeys(ViewerTokenVerifier(keySet: keySet)),
                lookup: fixture.lookup, shares: fixture.shares, revocations: fixture.revocations,
                rateLimiter: RateLimiter(configuration: .init(rate: 0), redis: nil), readiness: readiness, group: fixture.group, logger: logger)
        }

        func token(_ ids: [String], jti: String? = nil) throws -> String {
            let now = EdgeService.unixNow()
            var claims = ViewerTokenMinter.Claims(issuedAt: now, expiresAt: now + 600)
            claims.videoIDs = ids
            claims.tokenID = jti
            return try minter.mint(claims)
        }

        func get(_ uri: String, method: HTTPMethod = .GET, headers: HTTPHeaders = [:]) async throws -> EdgeReply {
            let loop = fixture.group.next()
            return try await loop.flatSubmit {
                service.reply(
                    to:
                        EdgeRequestHead(
                            method: method, uri: uri, fields: .init(headers, trustedProxyHeader: service.configuration.trustedProxyHeader)),
                    peer: try? SocketAddress(ipAddress: "192.0.2.1", port: 40000), on: loop
                )
            }.get()
        }
    }

    @Test func decisionsForAPrivateVideo() async throws {
        let edge = try await Edge()
        try await edge.fixture.registerCompleted("vid-1")
        let token = try edge.token(["vid-1"])

        #expect(try await edge.get("/v/..").status == .notFound)
        #expect(try await edge.get("/v/vid-1?token=forged.token.value").status == .unauthorized)
        #expect(try await edge.get("/v/nobody?token=\(token)").status == .notFound)
        let anonymous = try await edge.get("/v/vid-1")
        #expect(anonymous.status == .unauthorized && anonymous.extraHeaders.contains { $0 == ("WWW-Authenticate", #"Bearer realm="usher""#) })
        #expect(try await edge.get("/v/vid-1?token=\(try edge.token(["other"]))").status == .forbidden)

        let redirect = try await edge.get("/v/vid-1?token=\(token)")
        #expect(redirect.status == .found)
        let location = try #require(redirect.location)
        #expect(location.hasPrefix("http://127.0.0.1:9/videos/videos/vid-1.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"))
        #expect(location.contains("X-Amz-Expires=900") && location.contains("X-Amz-SignedHeaders=host"))
        #expect(redirect.caching == .privateMaxAge(840))
    }

    @Test func statesAndTakedowns() async throws {
        let edge = try await Edge()
        _ = try await edge.fixture.generations.register(requestID: "pending-1", owner: "o", visibility: .private, objectKey: nil, cdnURL: nil)
        _ = try await edge.fixture.generations.rejectVideo(requestID: "failed-1", sourceURL: nil, reason: "fal said no")
        try await edge.fixture.registerCompleted("down-1")
        let token = try edge.token(["pending-1", "failed-1", "down-1"], jti: "jti-1")

        let pending = try await edge.get("/v/pending-1?token=\(token)")
        #expect(pending.status == .serviceUnavailable && pending.extraHeaders.contains { $0.0 == "Retry-After" })
        #expect(try await edge.get("/v/failed-1?token=\(token)").status == .gone)
        #expect(try await edge.get("/v/down-1?token=\(token)").status == .found)

        _ = try await edge.fixture.revocations.add(.requestID, value: "down-1", until: nil)
        #expect(try await edge.get("/v/down-1?token=\(token)").status == .gone)
        _ = try await edge.fixture.revocations.add(.tokenID, value: "jti-1", until: nil)
        #expect(try await edge.get("/v/pending-1?token=\(token)").status == .unauthorized)
    }

    @Test func publicVideosNeedNoTokenAndIgnoreOne() async throws {
        let edge = try await Edge(publicBaseURL: "https://cdn.example.com/")
        try await edge.fixture.registerCompleted("pub-1", visibility: .public, objectKey: "videos/a b+c.mp4")
        for uri in ["/v/pub-1", "/v/pub-1?token=\(try edge.token(["other"]))"] {
            let reply = try await edge.get(uri)
            #expect(
                reply.status == .found && reply.location == "https://cdn.example.com/videos/a%20b%2Bc.mp4" && reply.caching == .publicMaxAge(3600),
                "\(uri)")
        }
    }

    @Test func sharesCountUsesAndStopWhenRevoked() async throws {
        let edge = try await Edge()
        try await edge.fixture.registerCompleted("shared-1")
        let once = try #require(try await edge.fixture.shares.create(requestID: "shared-1", ttlSeconds: 3600, maxUses: 1))
        let first = try await edge.get("/s/\(once.code)")
        #expect(first.status == .found && first.caching == .noStore)
        #expect(try await edge.get("/s/\(once.code)", method: .HEAD).status == .gone, "a HEAD of a one-time share takes a use too")

        let open = try #require(try await edge.fixture.shares.create(requestID: "shared-1", ttlSeconds: 3600, maxUses: nil))
        #expect(try await edge.get("/s/\(open.code)").status == .found)
        _ = try await edge.fixture.shares.revoke(code: open.code)
        #expect(try await edge.get("/s/\(open.code)").status == .gone)
        #expect(try await edge.get("/s/\(String(repeating: "Z", count: 24))").status == .notFound)
    }

    @Test func nothingIsHandedOutUntilTheRevocationListHasLoaded() async throws {
        let edge = try await Edge()
        try await edge.fixture.registerCompleted("vid-2", visibility: .public)
        let fresh = Revocations(cache: edge.fixture.cache, store: edge.fixture.store, logger: Logger(label: "unloaded"))
        let service = EdgeService(
            configuration: edge.service.configuration, presigner: edge.service.presigner, keys: edge.service.keys, lookup: edge.fixture.lookup,
            shares: edge.fixture.shares, revocations: fresh, rateLimiter: edge.service.rateLimiter, readiness: edge.service.readiness,
            group: edge.fixture.group, logger: Logger(label: "unloaded"))
        let loop = edge.fixture.group.next()
        let reply = try await loop.flatSubmit { service.reply(to: EdgeRequestHead(uri: "/v/vid-2"), peer: nil, on: loop) }
            .get()
        #expect(reply.status == .serviceUnavailable)
    }
}
