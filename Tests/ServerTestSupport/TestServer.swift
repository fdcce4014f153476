import Delivery
public import Foundation
import Gateway
import Logging
import NIOCore
import Postgres
import ServiceLifecycle
import SigV4
import Testing
import UsherCrypto
public import UsherServer
public import UsherTestSupport
public import ViewerAuth

/// A real Usher (`buildServices`, as `usher serve` builds it) on ephemeral ports, against the local stack's
/// `usher_test` database and Redis database 1.
public final class TestServer: Sendable {
    public let services: UsherServices
    public let task: Task<Void, any Error>
    public let edgeURL: String
    public let appURL: String
    public let minter: ViewerTokenMinter
    public let keysPath: String

    public static let adminToken = "test-admin-token"

    /// Without `worker` unless asked for: the queue in `usher_test` is shared, and a gateway test's worker would
    /// take (and fail) the mirror tests' jobs.
    public static func start(_ overrides: [String: String] = [:], roles: String = "gateway,webhook") async throws -> TestServer {
        let seed = try SecureRandom.bytes(32)
        let jwks = #"{"keys":[{"kty":"oct","kid":"test","k":"\#(Base64URL.encode(seed))"}]}"#
        let keysPath = FileManager.default.temporaryDirectory.appendingPathComponent("usher-test-keys-\(UUID().uuidString).json").path
        try jwks.write(toFile: keysPath, atomically: true, encoding: .utf8)

        var values = LocalStack.usherEnvironment(overrides)
        values["USHER_LISTEN"] = "127.0.0.1:0"
        values["USHER_APP_LISTEN"] = "127.0.0.1:0"
        values["USHER_TOKEN_KEYS"] = keysPath
        values["USHER_ADMIN_TOKENS"] = "other-token, \(adminToken)"
        values["USHER_EVENT_LOOPS"] = "2"
        values["USHER_SHUTDOWN_GRACE"] = "5"
        for (name, value) in overrides { values[name] = value }
        var configuration = try UsherConfiguration(environment: ConfigurationReader(values), coreCount: 2)
        configuration.roles = try UsherConfiguration.roles(roles)
        var logger = Logger(label: "usher-test")
        logger.logLevel = .warning
        let services = try await buildServices(configuration: configuration, logger: logger)
        let task = Task { try await services.run() }
        let edgePort = try await services.edge?.localAddress.get().port ?? 0
        let appPort = try await services.appPort.get()
        let key = try ViewerKeySet(jwks: Array(jwks.utf8)).keys[0]
        return TestServer(
            services: services, task: task, edgeURL: "http://127.0.0.1:\(edgePort)", appURL: "http://127.0.0.1:\(appPort)",
            minter: ViewerTokenMinter(key: key), keysPath: keysPath)
    }

    private init(services: UsherServices, task: Task<Void, any Error>, edgeURL: String, appURL: String, minter: ViewerTokenMinter, keysPath: String) {
        self.services = services
        self.task = task
        self.edgeURL = edgeURL
        self.appURL = appURL
        self.minter = minter
        self.keysPath = keysPath
    }

    /// What SIGTERM does; `task` completes once the services have stopped.
    public func beginShutdown() async {
        await services.serviceGroup.triggerGracefulShutdown()
    }

    public func stop() async throws {
        await services.serviceGroup.triggerGracefulShutdown()
        try await task.value
        try? FileManager.default.removeItem(atPath: keysPath)
    }

    public func token(videoIDs: [String] = [], owner: String? = nil, ttl: Int64 = 600) throws -> String {
        let now = Int64(Date().timeIntervalSince1970)
        var claims = ViewerTokenMinter.Claims(issuedAt: now, expiresAt: now + ttl)
        claims.videoIDs = videoIDs
        claims.owner = owner
        claims.subject = "viewer-test"
        return try minter.mint(claims)
    }

    /// POST /v1/generations.
    public func register(_ json: String, token: String = adminToken) async throws -> HTTPResult {
        try await TestHTTP.request(
            appURL + "/v1/generations", method: "POST", headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
            body: Data(json.utf8))
    }

    /// The one "register a video" of the integration suites: a COMPLETED generation through `POST /v1/generations`,
    /// its object uploaded first when `bytes` are given. Records a test issue unless the API answers 201.
    @discardableResult
    public func registerVideo(
        _ id: String = uniqueID("v"), owner: String? = "o", visibility: String = "private", key: String? = nil, expiresAt: String? = nil,
        upload bytes: Data? = nil
    ) async throws -> String {
        let key = key ?? "videos/\(id).mp4"
        if let bytes { try await upload(key: key, bytes: bytes) }
        var body: [String: String] = ["request_id": id, "visibility": visibility, "object_key": key]
        body["owner"] = owner
        body["expires_at"] = expiresAt
        let reply = try await TestHTTP.request(
            appURL + "/v1/generations", method: "POST",
            headers: [("Authorization", "Bearer \(Self.adminToken)"), ("Content-Type", "application/json")],
            body: try JSONSerialization.data(withJSONObject: body))
        #expect(reply.status == 201, "registering \(id): \(String(decoding: reply.body, as: UTF8.self))")
        return id
    }

    /// Uploads bytes to the stack's bucket with a signed PUT.
    public func upload(key: String, bytes: Data) async throws {
        let signer = RequestSigner(configuration: try services.configuration.s3)
        let signed = signer.sign(
            S3Request(method: "PUT", key: key, headers: [("Content-Type", "video/mp4")]),
            payloadHash: SHA256.hash([UInt8](bytes)).hexString, now: Int64(Date().timeIntervalSince1970))
        let result = try await TestHTTP.request(signed.url, method: "PUT", headers: signed.headers.filter { $0.name != "host" }, body: bytes)
        guard result.status == 200 else { throw ProcessFailure(description: "upload of \(key) failed: \(result.status)") }
    }

    /// A signed request on the stack's bucket (`key` nil: the bucket itself), for checks the gateway does not make.
    public func s3(_ method: String, key: String?, query: [(name: String, value: String)] = []) async throws -> HTTPResult {
        let signer = RequestSigner(configuration: try services.configuration.s3)
        let signed = signer.sign(
            S3Request(method: method, key: key, query: query), payloadHash: RequestSigner.emptyPayload, now: Int64(Date().timeIntervalSince1970))
        return try await TestHTTP.request(signed.url, method: method, headers: signed.headers.filter { $0.name != "host" })
    }

    /// Changes a row behind the caches' back, then has the caches reload it.
    public func setRow(_ id: String, _ assignments: String, _ parameters: [String?] = []) async throws {
        _ = try await services.postgres.query("UPDATE generations SET \(assignments) WHERE request_id = $1", [id] + parameters)
        await services.generations.reloadCache(id)
    }
}

public func uniqueID(_ prefix: String = "t") -> String { "\(prefix)-\(UUID().uuidString.lowercased())" }
