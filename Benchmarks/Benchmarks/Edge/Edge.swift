import Benchmark
import Delivery
import DeliveryTesting
import Dispatch
import FloorHandler
import Foundation
@_spi(Benchmarks) import Gateway
import Logging
import NIOCore
import NIOEmbedded
import Postgres
import Redis
import SigV4
import UsherCrypto
import ViewerAuth

/// `GET /v/{id}?token=…` through the edge's real connection handling (guard, decoder, handler, `EdgeService`) on an
/// `EmbeddedChannel`, over 10,000 ids in turn (as `Benchmarks/load/run` asks), each answered 302 from the in-process
/// cache as in steady state: with play counting on and off, side by side, so counting's cost shows as allocations
/// (a count this VM's noise cannot move) and as time measured in the same run.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .instructions, .throughput],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )

    let world = EdgeWorld.shared
    for counting in [false, true] {
        Benchmark("GET /v 302, plays \(counting ? "counted" : "off")") { benchmark in
            try measure(benchmark, try world.edge(countingPlays: counting), world.requests)
        }
    }
    // PRESIGN_WINDOW on: each video's URL signed once per window and reused (WindowedURLs).
    Benchmark("GET /v 302, plays counted, PRESIGN_WINDOW 300 s") { benchmark in
        try measure(benchmark, try world.edge(countingPlays: true, signingWindow: 300), world.requests)
    }
    // The other paths issue 17 counts, plays counted as in production: the floor, a record read from the shared
    // cache on every request (the in-process cache off; the in-memory store stands in for Redis's reply), and a 401.
    Benchmark("GET /healthz 200") { benchmark in
        try measure(benchmark, try world.edge(countingPlays: true), [world.healthz])
    }
    // What is under it: EdgeFloor's handler (no decoder, nginx-302's answer as fixed bytes) on the same
    // `EmbeddedChannel`, so the difference is the edge's own work per `/healthz`, which load runs measure only within
    // their noise (README § Where the remaining cost sits).
    Benchmark("GET, the NIO floor's handler (no decoder, a fixed answer)") { benchmark in
        try measure(benchmark, try world.floor(), [world.healthz], expecting: "HTTP/1.1 302")
    }
    Benchmark("GET /v 302, record from the shared cache (local cache off)") { benchmark in
        try measure(benchmark, try world.edge(countingPlays: true, localCache: false), world.requests)
    }
    Benchmark("GET /v 401, bad signature") { benchmark in
        try measure(benchmark, try world.edge(countingPlays: true), world.forged, expecting: "HTTP/1.1 401")
    }
}

/// The requests in turn through one warmed edge, each answer checked once before the measurement.
private func measure(_ benchmark: Benchmark, _ edge: Edge, _ requests: [ByteBuffer], expecting status: String = "") throws {
    if !status.isEmpty {
        let answer = try edge.answer(requests[0])
        guard answer.hasPrefix(status) else { fatalError("edge benchmark: expected \(status), got \(answer.prefix(200))") }
    }
    var next = 0
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
        blackHole(try edge.request(requests[next]))
        next = next == requests.count - 1 ? 0 : next + 1
    }
    benchmark.stopMeasurement()
}

/// The registered video, the token and the stores, made once (their setup is async; the measured part is not).
final class EdgeWorld: Sendable {
    static let shared = EdgeWorld()

    let fixture = DeliveryFixture()
    let keySet: ViewerKeySet
    /// One request per id, with one token covering them all (its owner's): verified once, then cached.
    let requests: [ByteBuffer]
    /// The same requests with the token's signature altered: each is a 401 after the signature check.
    let forged: [ByteBuffer]
    let healthz = ByteBuffer(string: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n\r\n")
    let logger = Logger(label: "edge-benchmark")

    init() {
        let requestIDs = (0..<10_000).map { "\(String(100_000_000 + $0).dropFirst())-7b4d-4c55-9e61-0a8b2f6d9c13" }
        let jwks = #"{"keys":[{"kty":"oct","kid":"k1","k":"\#(Base64URL.encode([UInt8](repeating: 0x5a, count: 32)))"}]}"#
        keySet = try! ViewerKeySet(jwks: Array(jwks.utf8))
        let now = Int64(Date().timeIntervalSince1970)
        var claims = ViewerTokenMinter.Claims(issuedAt: now, expiresAt: now + 86_400)
        claims.owner = "owner-1"
        claims.subject = "viewer-42"
        let token = try! ViewerTokenMinter(key: keySet.keys[0]).mint(claims)
        requests = requestIDs.map {
            ByteBuffer(string: "GET /v/\($0)?token=\(token) HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n\r\n")
        }
        // The signature's first character changed (still base64url): HS256 fails, and no cache holds the token.
        let signature = token.split(separator: ".")[2]
        let forgedToken = token.dropLast(signature.count) + (signature.first == "A" ? "B" : "A") + signature.dropFirst()
        forged = requestIDs.prefix(100).map {
            ByteBuffer(string: "GET /v/\($0)?token=\(forgedToken) HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n\r\n")
        }
        let fixture = self.fixture
        Self.wait {
            for id in requestIDs { try await fixture.registerCompleted(id, owner: "owner-1") }
            // As in production, where videos get deleted and taken down: one takedown of another id in force, so every
            // request asks the revocation list (with none, `Revocations` answers without looking).
            _ = try await fixture.revocations.add(.requestID, value: "taken-down-elsewhere", until: nil)
            try await fixture.revocations.reload()
        }
    }

    /// Runs `body` to completion from synchronous code (setup only; nothing measured waits here).
    private static func wait(_ body: @escaping @Sendable () async throws -> Void) {
        let done = DispatchSemaphore(value: 0)
        Task {
            do { try await body() } catch { fatalError("edge benchmark setup: \(error)") }
            done.signal()
        }
        done.wait()
    }

    /// A fresh edge on an `EmbeddedChannel`, warmed by one request per id (token verified and cached, records in the
    /// in-process cache, each id-day in the loop's play batch), as a connection under load finds it.
    /// `signingWindow`: `PRESIGN_WINDOW` (0: off, each URL signed per request).
    func edge(countingPlays: Bool, localCache: Bool = true, signingWindow: Int = 0) throws -> Edge {
        let loop = EmbeddedEventLoop()
        var lookupConfiguration = GenerationLookup.Configuration()
        lookupConfiguration.localTTL = localCache ? .seconds(3600) : .zero
        let lookup = GenerationLookup(configuration: lookupConfiguration, cache: fixture.cache, store: fixture.store, group: loop)
        let s3 = try S3Configuration(
            endpoint: try S3Endpoint("https://abc123.r2.cloudflarestorage.com"), region: "auto", bucket: "usher",
            credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))
        // `/readyz` is not asked: these clients point where nothing listens and never connect.
        let readiness = Readiness(
            redis: try RedisClient(url: "redis://127.0.0.1:1/0", group: loop, logger: logger),
            postgres: PQClient(configuration: PostgresConfiguration(url: "postgres://usher@127.0.0.1:1/usher"), logger: logger))
        let plays = countingPlays ? Plays(ledger: InMemoryPlayLedger(), sketches: InMemorySketches(), group: loop, logger: logger) : nil
        let service = EdgeService(
            configuration: GatewayConfiguration(), presigner: try Presigner(configuration: s3, signingWindow: signingWindow),
            keys: ViewerKeys(ViewerTokenVerifier(keySet: keySet)),
            lookup: lookup, shares: fixture.shares, revocations: fixture.revocations,
            rateLimiter: RateLimiter(configuration: .init(rate: 0), redis: nil),
            readiness: readiness, plays: plays, group: loop, logger: logger)
        let channel = EmbeddedChannel(loop: loop)
        try service.install(on: channel)
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 40000)).wait()
        let edge = Edge(channel: channel)
        for request in requests {
            let answer = try edge.answer(request)
            guard answer.hasPrefix("HTTP/1.1 302") else { fatalError("edge benchmark: expected a 302, got \(answer.prefix(200))") }
        }
        return edge
    }
}

extension EdgeWorld {
    /// `Benchmarks/load/run`'s `nio-floor` server's handler on an `EmbeddedChannel`, answering what nginx answers.
    func floor() throws -> Edge {
        let channel = EmbeddedChannel(loop: EmbeddedEventLoop())
        try channel.pipeline.syncOperations.addHandler(
            FloorHandler(answer: nginx302Answer(location: "http://127.0.0.1:8333/usher/r/bench-load-00001.mp4")))
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 40000)).wait()
        return Edge(channel: channel)
    }
}

struct Edge {
    let channel: EmbeddedChannel

    /// One request in, its whole answer out; returns the answer's length.
    func request(_ request: ByteBuffer) throws -> Int {
        try channel.writeInbound(request)
        channel.embeddedEventLoop.run()
        var bytes = 0
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytes }
        return bytes
    }

    /// One request, its answer as text (to check it).
    func answer(_ request: ByteBuffer) throws -> String {
        try channel.writeInbound(request)
        channel.embeddedEventLoop.run()
        var answer = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { answer += String(buffer: buffer) }
        return answer
    }
}
