import AppServer
import Delivery
import Gateway
import Hummingbird
import HummingbirdTesting
import Logging
import NIOPosix
import Postgres
import RedisClient
import SigV4
import Testing

/// The app listener's routes through HummingbirdTesting's `.router` mode: no socket and no stack. The clients
/// point at ports where nothing listens, so every answer here is one the router gives before any Redis or
/// Postgres work (auth, validation, problem+json).
@Suite struct AppRouterTests {
    static let admin = "router-test-admin"

    static func application() throws -> some ApplicationProtocol {
        let logger = Logger(label: "app-router-test")
        let group = MultiThreadedEventLoopGroup.singleton
        let redis = try RedisClient(url: "redis://127.0.0.1:1/0", group: group, logger: logger)
        let postgres = PostgresClient(configuration: PostgresConfiguration(url: "postgres://usher@127.0.0.1:1/usher", connectTimeoutSeconds: 1), logger: logger)
        let store = GenerationStore(client: postgres)
        let lookup = GenerationLookup(configuration: .init(), redis: redis, store: store, group: group)
        let s3 = try S3Configuration(bucket: "videos", credentials: S3Credentials(accessKeyID: "id", secretAccessKey: "secret"))
        let dependencies = AppDependencies(
            generations: Generations(store: store, jobs: MirrorJobStore(client: postgres), lookup: lookup),
            readiness: Readiness(redis: redis, postgres: postgres), cdnURLs: CDNURLs(s3: s3, publicBaseURL: nil), adminTokens: [admin],
            servesAdmin: true, webhookVerifier: nil, shares: ShareLinks(redis: redis, store: ShareStore(client: postgres)),
            revocations: Revocations(redis: redis, store: RevocationStore(client: postgres), logger: logger), publicURL: "http://edge.test",
            servesDemo: false)
        return Application(router: buildAppRouter(dependencies), logger: logger)
    }

    static func isProblem(_ response: TestResponse, status: HTTPResponse.Status) -> Bool {
        response.status == status && response.headers[.contentType] == "application/problem+json"
            && String(buffer: response.body).contains(#""status":\#(status.code)"#)
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

    @Test func unknownRoutesAreProblemJSON404() async throws {
        try await Self.application().test(.router) { client in
            try await client.execute(uri: "/nowhere", method: .get) { #expect(Self.isProblem($0, status: .notFound)) }
        }
    }
}
