import AppServer
import Delivery
import DeliveryTesting
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import Logging
import NIOPosix
import Postgres
import Redis
import SigV4
import Synchronization
import Testing

/// The app listener's routes through HummingbirdTesting's `.router` mode: no socket and no stack. The domain's
/// stores are the in-memory ones; the Redis and Postgres clients (for `/readyz` and the queue gauges only) point
/// at ports where nothing listens.
@Suite struct AppRouterTests {
    static let admin = "router-test-admin"

    static func application(
        store: InMemoryStore = InMemoryStore(), cache: InMemoryCache = InMemoryCache(), ledger: InMemoryPlayLedger = InMemoryPlayLedger(),
        sketches: InMemorySketches = InMemorySketches()
    ) throws -> some ApplicationProtocol {
        let logger = Logger(label: "app-router-test")
        let group = MultiThreadedEventLoopGroup.singleton
        let redis = try RedisClient(url: "redis://127.0.0.1:1/0", group: group, logger: logger)
        let postgres = PQClient(
            configuration: PostgresConfiguration(url: "postgres://usher@127.0.0.1:1/usher", connectTimeoutSeconds: 1), logger: logger)
        let lookup = GenerationLookup(configuration: .init(), cache: cache, store: store, group: group)
        let shares = ShareLinks(cache: cache, store: store)
        let revocations = Revocations(cache: cache, store: store, logger: logger)
        let dependencies = AppDependencies(
            generations: Generations(
                store: store, jobs: store, lookup: lookup, shares: shares, revocations: revocations, objects: InMemoryBucket()),
            jobs: MirrorJobStore(client: postgres),
            plays: Plays(ledger: ledger, sketches: sketches, group: group, logger: logger),
            readiness: Readiness(redis: redis, postgres: postgres), cdnURLs: try cdnURLs(), adminTokens: [admin],
            servesAdmin: true, webhookVerifier: nil, shares: shares,
            revocations: revocations, publicURL: "http://edge.test",
            servesDemo: false)
        return Application(router: buildAppRouter(dependencies), logger: logger)
    }

    static func cdnURLs() throws -> CDNURLs {
        CDNURLs(
            s3: try S3Configuration(bucket: "videos", credentials: S3Credentials(accessKeyID: "id", secretAccessKey: "secret")), publicBaseURL: nil)
    }

    static func isProblem(_ response: TestResponse, status: HTTPResponse.Status) -> Bool {
        response.status == status && response.headers[.contentType] == "application/problem+json"
            && String(buffer: response.body).contains(#""status":\#(status.code)"#)
    }

    /// The document served is the committed one, byte for byte (it is compiled in), without auth.
    @Test func theAPIDescriptionIsServedAsCommitted() async throws {
        let committed = try Data(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/AppServer/openapi.yaml"))
        try await Self.application().test(.router) { client in
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/yaml; charset=utf-8")
                let same = Array(buffer: response.body) == Array(committed)
                #expect(same, "the document served (\(response.body.readableBytes) bytes) is not the committed file (\(committed.count))")
                #expect(String(buffer: response.body).hasPrefix("openapi: 3.1"))
            }
        }
    }

    @Test func healthAnswersWithoutDependencies() async throws {
        try await Self.application().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok\n")
            }
        }
    }

    @Test func theAdminAPIRefusesAMissingOrWrongBearer() async throws {
        try await Self.application().test(.router) { client in
            try await client.execute(uri: "/v1/generations/abc", method: .get) { #expect(Self.isProblem($0, status: .unauthorized)) }
            try await client.execute(uri: "/v1/generations/abc", method: .get, headers: [.authorization: "Bearer nope"]) {
                #expect(Self.isProblem($0, status: .unauthorized))
            }
        }
    }

    @Test func everyGenerationsRouteRefusesAMissingBearer() async throws {
        try await Self.application().test(.router) { client in
            for (uri, method) in [
                ("/v1/generations?owner=o", HTTPRequest.Method.get), ("/v1/generations/abc", .delete), ("/v1/generations/abc/stats", .get),
            ] {
                try await client.execute(uri: uri, method: method) { #expect(Self.isProblem($0, status: .unauthorized), "\(method) \(uri)") }
            }
        }
    }

    @Test func statsAndDeletionAnswerFromTheDomain() async throws {
        let store = InMemoryStore()
        _ = try await store.register(requestID: "gen-d", owner: "o", visibility: .private, objectKey: "videos/gen-d.mp4", cdnURL: nil, expiry: .never)
        try await Self.application(store: store).test(.router) { client in
            let bearer: HTTPFields = [.authorization: "Bearer \(Self.admin)"]
            try await client.execute(uri: "/v1/generations/gen-d/stats?from=2026-12-01&to=2026-12-03", method: .get, headers: bearer) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains(#""day":"2026-12-01""#) && text.contains(#""total":{"plays":0,"share_plays":0,"viewers":0}"#), "\(text)")
            }
            for query in ["?from=2026-12-04&to=2026-12-03", "?from=12/01/2026", "?from=2024-01-01&to=2026-01-01"] {
                try await client.execute(uri: "/v1/generations/gen-d/stats\(query)", method: .get, headers: bearer) {
                    #expect(Self.isProblem($0, status: .badRequest), "\(query)")
                }
            }
            try await client.execute(uri: "/v1/generations/nobody/stats", method: .get, headers: bearer) {
                #expect(Self.isProblem($0, status: .notFound))
            }
            try await client.execute(uri: "/v1/generations/gen-d", method: .delete, headers: bearer) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v1/generations/gen-d", method: .delete, headers: bearer) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v1/generations/nobody", method: .delete, headers: bearer) {
                #expect(Self.isProblem($0, status: .notFound))
            }
        }
        #expect(try await store.find("gen-d")?.status == .deleted)
    }

    @Test func statsWhileTheSketchStoreIsDownAre503WithRetryAfter() async throws {
        let store = InMemoryStore()
        _ = try await store.register(requestID: "gen-r", owner: "o", visibility: .private, objectKey: nil, cdnURL: nil, expiry: .never)
        // A counted day, so the stats must ask the sketches for its viewers.
        let ledger = InMemoryPlayLedger()
        let today = PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970))
        try await ledger.add([PlayKey(requestID: "gen-r", day: today): PlayCounts(plays: 3)])
        let sketches = InMemorySketches()
        sketches.isAvailable = false
        try await Self.application(store: store, ledger: ledger, sketches: sketches).test(.router) { client in
            try await client.execute(uri: "/v1/generations/gen-r/stats", method: .get, headers: [.authorization: "Bearer \(Self.admin)"]) {
                #expect(Self.isProblem($0, status: .serviceUnavailable))
                #expect($0.headers[.retryAfter] == "2")
            }
        }
    }

    @Test func badBodiesAndValuesAre400BeforeAnyDatabaseWork() async throws {
        try await Self.application().test(.router) { client in
            let bearer: HTTPFields = [.authorization: "Bearer \(Self.admin)", .contentType: "application/json"]
            for body in ["not json", #"{"request_id":"../x","owner":"o"}"#, #"{"request_id":"a","owner":"o","visibility":"unlisted"}"#] {
                try await client.execute(uri: "/v1/generations", method: .post, headers: bearer, body: ByteBuffer(string: body)) {
                    #expect(Self.isProblem($0, status: .badRequest), "\(body)")
                }
            }
            try await client.execute(uri: "/v1/revocations/sub/%zz", method: .delete, headers: bearer) {
                #expect(Self.isProblem($0, status: .badRequest))
            }
        }
    }

    /// U+0000 never reaches the database (a C string would end there and another value be stored: `abc\u0000def`
    /// revoked `abc`), and times stay within what an answer can write back as RFC 3339 UTC.
    @Test func nulAndOutOfRangeTimesAre400() async throws {
        let store = InMemoryStore()
        try await Self.application(store: store).test(.router) { client in
            let bearer: HTTPFields = [.authorization: "Bearer \(Self.admin)", .contentType: "application/json"]
            let refused: [(String, String)] = [
                ("/v1/generations", #"{"request_id":"n1","owner":"team-a\u0000x","visibility":"private"}"#),
                ("/v1/generations", #"{"request_id":"n2","visibility":"private","expires_at":"9999-12-31T23:00:00-05:00"}"#),
                ("/v1/generations", #"{"request_id":"n3","visibility":"private","expires_at":"0001-01-01T00:00:00+05:00"}"#),
                ("/v1/generations", #"{"request_id":"n4","visibility":"private","expires_at":"2026-13-01T00:00:00Z"}"#),
                // Digits of other scripts: a Regex `\d` matched them, and `Int` then could not read them.
                ("/v1/generations", #"{"request_id":"n6","visibility":"private","expires_at":"２０２６-01-01T00:00:00Z"}"#),
                ("/v1/revocations", #"{"sub":"s","until":"2026-01-01T00:00:00+٠٥:00"}"#),
                ("/v1/revocations", #"{"jti":"abc\u0000def"}"#),
            ]
            for (uri, body) in refused {
                try await client.execute(uri: uri, method: .post, headers: bearer, body: ByteBuffer(string: body)) {
                    #expect(Self.isProblem($0, status: .badRequest), "\(body)")
                }
            }
            // A NUL in an ignored member is ignored, like the member.
            let ignored = #"{"request_id":"n5","visibility":"private","note\u0000":"x\u0000"}"#
            try await client.execute(uri: "/v1/generations", method: .post, headers: bearer, body: ByteBuffer(string: ignored)) {
                #expect($0.status == .created)
            }
            for uri in ["/v1/revocations/jti/abc%00zzz", "/v1/generations?owner=team-a%00zzz", "/v1/generations/n5%00"] {
                let method: HTTPRequest.Method = uri.hasPrefix("/v1/revocations") ? .delete : .get
                try await client.execute(uri: uri, method: method, headers: bearer) { #expect(Self.isProblem($0, status: .badRequest), "\(uri)") }
            }
            try await client.execute(uri: "/healthz?" + String(repeating: "a", count: 9000), method: .get) {
                #expect(Self.isProblem($0, status: .uriTooLong))
            }
        }
        #expect(try await store.find("n1") == nil)
        #expect(try await store.find("n2") == nil)
    }

    /// An object key a store cannot hold as an object is refused before anything is stored (the schemathesis run
    /// registered `/`, and its DELETE could then never finish): `Generation.isValidObjectKey`.
    @Test func objectKeysAStoreCannotHoldAre400() async throws {
        let store = InMemoryStore()
        try await Self.application(store: store).test(.router) { client in
            let bearer: HTTPFields = [.authorization: "Bearer \(Self.admin)", .contentType: "application/json"]
            for (id, key) in [("k1", "/"), ("k2", "a/../b"), ("k3", "folder/")] {
                let body = #"{"request_id":"\#(id)","owner":"team-a","visibility":"private","object_key":"\#(key)"}"#
                try await client.execute(uri: "/v1/generations", method: .post, headers: bearer, body: ByteBuffer(string: body)) {
                    #expect(Self.isProblem($0, status: .badRequest), "\(key)")
                }
                #expect(try await store.find(id) == nil)
            }
            let good = #"{"request_id":"k4","owner":"team-a","visibility":"private","object_key":"videos/k4.mp4"}"#
            try await client.execute(uri: "/v1/generations", method: .post, headers: bearer, body: ByteBuffer(string: good)) {
                #expect($0.status == .created)
            }
        }
    }

    @Test func aKnownPathAskedWithAnotherMethodIs405WithAllowAndGetRoutesAnswerHead() async throws {
        try await Self.application().test(.router) { client in
            let bearer: HTTPFields = [.authorization: "Bearer \(Self.admin)"]
            try await client.execute(uri: "/healthz", method: .post) { response in
                #expect(Self.isProblem(response, status: .methodNotAllowed))
                #expect(response.headers[.allow] == "GET, HEAD")
            }
            try await client.execute(uri: "/v1/generations/abc", method: .post, headers: bearer) { response in
                #expect(Self.isProblem(response, status: .methodNotAllowed))
                #expect(response.headers[.allow] == "DELETE, GET, HEAD")
            }
            try await client.execute(uri: "/webhooks/nowhere", method: .post) { #expect(Self.isProblem($0, status: .notFound)) }
            try await client.execute(uri: "/healthz", method: .head) { response in
                #expect(response.status == .ok)
                #expect(response.body.readableBytes == 0)
            }
        }
    }

    @Test func unknownRoutesAreProblemJSON404() async throws {
        try await Self.application().test(.router) { client in
            try await client.execute(uri: "/nowhere", method: .get) { #expect(Self.isProblem($0, status: .notFound)) }
        }
    }

    @Test func registeringIsCreatedThenUnchangedThenAConflict() async throws {
        let store = InMemoryStore()
        let cdnURL = try Self.cdnURLs().url(key: "videos/gen-1.mp4")
        try await Self.application(store: store).test(.router) { client in
            let bearer: HTTPFields = [.authorization: "Bearer \(Self.admin)", .contentType: "application/json"]
            let body = #"{"request_id":"gen-1","owner":"team-a","visibility":"public","object_key":"videos/gen-1.mp4"}"#
            try await client.execute(uri: "/v1/generations", method: .post, headers: bearer, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .created)
                let text = String(buffer: response.body)
                #expect(text.contains(#""status":"COMPLETED""#), "\(text)")
                #expect(text.contains(#""cdn_url":"\#(cdnURL)""#), "\(text)")
                #expect(text.contains(#""fal_url":null"#), "absent values are null: \(text)")
            }
            try await client.execute(uri: "/v1/generations", method: .post, headers: bearer, body: ByteBuffer(string: body)) {
                #expect($0.status == .ok)
            }
            let other = #"{"request_id":"gen-1","owner":"team-b","visibility":"public"}"#
            try await client.execute(uri: "/v1/generations", method: .post, headers: bearer, body: ByteBuffer(string: other)) {
                #expect(Self.isProblem($0, status: .conflict))
            }
            try await client.execute(uri: "/v1/generations/gen-1", method: .get, headers: bearer) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains(#""owner":"team-a""#))
            }
            try await client.execute(uri: "/v1/generations/gen-2", method: .get, headers: bearer) { #expect(Self.isProblem($0, status: .notFound)) }
        }
        #expect(try await store.find("gen-1")?.owner == "team-a")
    }

    @Test func aDatabaseThatIsDownIs503WithRetryAfter() async throws {
        let store = InMemoryStore()
        store.isAvailable = false
        try await Self.application(store: store).test(.router) { client in
            let bearer: HTTPFields = [.authorization: "Bearer \(Self.admin)", .contentType: "application/json"]
            try await client.execute(uri: "/v1/generations/gen-1", method: .get, headers: bearer) { response in
                #expect(Self.isProblem(response, status: .serviceUnavailable))
                #expect(response.headers[.retryAfter] == "2", "GatewayConfiguration.retryAfterUnavailable, as on the edge")
            }
        }
    }

    @Test func sharesAndRevocationsRoundTrip() async throws {
        let store = InMemoryStore()
        _ = try await store.register(requestID: "gen-s", owner: "o", visibility: .private, objectKey: "videos/gen-s.mp4", cdnURL: nil, expiry: .never)
        let code = Mutex("")
        try await Self.application(store: store).test(.router) { client in
            let bearer: HTTPFields = [.authorization: "Bearer \(Self.admin)", .contentType: "application/json"]
            try await client.execute(
                uri: "/v1/shares", method: .post, headers: bearer, body: ByteBuffer(string: #"{"request_id":"gen-s","ttl_seconds":600,"max_uses":3}"#)
            ) { response in
                #expect(response.status == .created)
                let text = String(buffer: response.body)
                #expect(text.contains(#""url":"http://edge.test/s/"#), "\(text)")
                code.withLock { $0 = String(text.split(separator: "\"").drop { $0 != "code" }.dropFirst(2).first ?? "") }
            }
            let code = code.withLock { $0 }
            #expect(code.utf8.count == 24)
            try await client.execute(
                uri: "/v1/shares", method: .post, headers: bearer, body: ByteBuffer(string: #"{"request_id":"nobody","ttl_seconds":600}"#)
            ) { #expect(Self.isProblem($0, status: .notFound)) }
            try await client.execute(uri: "/v1/shares/\(code)", method: .delete, headers: bearer) { #expect($0.status == .noContent) }
            try await client.execute(
                uri: "/v1/revocations", method: .post, headers: bearer, body: ByteBuffer(string: #"{"sub":"viewer-1","until":"not a time"}"#)
            ) { #expect(Self.isProblem($0, status: .badRequest)) }
            try await client.execute(
                uri: "/v1/revocations", method: .post, headers: bearer, body: ByteBuffer(string: #"{"sub":"viewer-1"}"#)
            ) { #expect($0.status == .created) }
            try await client.execute(uri: "/v1/revocations/sub/viewer-1", method: .delete, headers: bearer) { #expect($0.status == .noContent) }
        }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        #expect(try await store.record(code.withLock { $0 }, on: loop).get()?.record.revoked == true)
        #expect(try await store.active().isEmpty)
    }
}
