import Delivery
import DeliveryTesting
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Postgres
import Redis
import SigV4
import Testing
import ViewerAuth

@_spi(Benchmarks) @testable import Gateway

/// A `/v` whose record is not in the in-process cache is answered through the lookup's callback (`EdgeAnswer.pending`),
/// with no future between the shared cache and the connection. These drive the real connection handling on an
/// `EmbeddedChannel` and check what that callback must keep: answers in request order behind a waiting one, a
/// callback run before `answer` returns (a store that answers inline), and a reply that comes after the connection
/// closed.
@Suite struct EdgePendingAnswerTests {
    /// The shared cache, holding back every GET's answer until `release` (as Redis does until its reply arrives).
    final class HeldCache: KeyValueCache, @unchecked Sendable {
        let inner: InMemoryCache
        private var held: [() -> Void] = []
        var holding = true

        init(_ inner: InMemoryCache) { self.inner = inner }

        var waiting: Int { held.count }

        /// Answers the oldest held GET.
        func release() {
            guard !held.isEmpty else { return }
            held.removeFirst()()
        }

        func get(_ key: [UInt8], on loop: (any EventLoop)?) -> EventLoopFuture<[UInt8]?> { inner.get(key, on: loop) }

        func get(_ key: [UInt8], on loop: any EventLoop, completion: @escaping @Sendable (Result<[UInt8]?, any Error>) -> Void) {
            let answer = { self.inner.get(key, on: loop).whenComplete(completion) }
            if holding { held.append(answer) } else { answer() }
        }

        func set(_ key: [UInt8], _ value: [UInt8], expireSeconds: Int, onlyIfAbsent: Bool, on loop: (any EventLoop)?) -> EventLoopFuture<Void> {
            inner.set(key, value, expireSeconds: expireSeconds, onlyIfAbsent: onlyIfAbsent, on: loop)
        }

        func delete(_ key: [UInt8], on loop: (any EventLoop)?) -> EventLoopFuture<Void> { inner.delete(key, on: loop) }

        func increment(_ key: [UInt8], on loop: (any EventLoop)?) -> EventLoopFuture<Void> { inner.increment(key, on: loop) }
    }

    /// Public videos in the shared cache (registered, then read once so that the read-through filled it), and one
    /// edge on an `EmbeddedChannel` whose lookup has no in-process cache: every `/v` asks the shared cache.
    struct Edge {
        let channel: EmbeddedChannel
        let cache: HeldCache
        let service: EdgeService

        static let ids = ["vid-a", "vid-b", "vid-c"]
        /// A key nobody signs with: the videos are public, no request carries a token.
        static let jwks = #"{"keys":[{"kty":"oct","kid":"k1","k":"WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo"}]}"#

        /// `signingWindow`: the presigner's `PRESIGN_WINDOW`.
        static func make(signingWindow: Int = 0) async throws -> Edge {
            let fixture = DeliveryFixture()
            for id in ids {
                try await fixture.registerCompleted(id, visibility: .public)
                #expect(try await fixture.resolve(id) != .absent)
            }
            try await fixture.revocations.reload()
            for id in ids { #expect(fixture.cache.peek("usher:gen:\(id)") != nil, "the read-through filled the shared cache") }

            let loop = EmbeddedEventLoop()
            let cache = HeldCache(fixture.cache)
            var configuration = GenerationLookup.Configuration()
            configuration.localTTL = .zero
            let logger = Logger(label: "edge-pending-test")
            let s3 = try S3Configuration(
                endpoint: try S3Endpoint("https://s3.test"), region: "auto", bucket: "usher",
                credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret"))
            // `/readyz` is not asked: these clients point where nothing listens and never connect.
            let readiness = Readiness(
                redis: try RedisClient(url: "redis://127.0.0.1:1/0", group: loop, logger: logger),
                postgres: PQClient(configuration: PostgresConfiguration(url: "postgres://usher@127.0.0.1:1/usher"), logger: logger))
            let service = EdgeService(
                configuration: GatewayConfiguration(), presigner: try Presigner(configuration: s3, signingWindow: signingWindow),
                keys: ViewerKeys(ViewerTokenVerifier(keySet: try ViewerKeySet(jwks: Array(Self.jwks.utf8)))),
                lookup: GenerationLookup(configuration: configuration, cache: cache, store: fixture.store, group: loop),
                shares: fixture.shares, revocations: fixture.revocations, rateLimiter: RateLimiter(configuration: .init(rate: 0), redis: nil),
                readiness: readiness, plays: nil, group: loop, logger: logger)
            let channel = EmbeddedChannel(loop: loop)
            try service.install(on: channel)
            try channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 40000)).wait()
            return Edge(channel: channel, cache: cache, service: service)
        }

        func send(_ requests: String...) throws {
            try channel.writeInbound(ByteBuffer(string: requests.joined()))
            channel.embeddedEventLoop.run()
        }

        /// Everything written since the last call.
        func written() throws -> String {
            var text = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
            return text
        }

        static func get(_ path: String) -> String { "GET \(path) HTTP/1.1\r\nHost: edge.test\r\n\r\n" }
    }

    /// The status lines and, for a 302, the object the Location names, in the order written.
    private static func answers(_ text: String) -> [String] {
        text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { answer in
            let status = String(answer.prefix(3))
            guard status == "302", let range = answer.range(of: #"videos/[a-z-]+\.mp4"#, options: .regularExpression) else { return status }
            return "302 \(answer[range])"
        }
    }

    @Test func answersWaitingForTheSharedCacheKeepTheRequestOrder() async throws {
        let edge = try await Edge.make()
        // Three pipelined requests in one read: the health check between the two videos waits behind the first.
        try edge.send(Edge.get("/v/vid-a"), Edge.get("/healthz"), Edge.get("/v/vid-b"))
        #expect(edge.cache.waiting == 1, "only the first is asked; the others queue behind its answer")
        #expect(try edge.written().isEmpty)

        edge.cache.release()
        edge.channel.embeddedEventLoop.run()
        #expect(Self.answers(try edge.written()) == ["302 videos/vid-a.mp4", "200"])
        #expect(edge.cache.waiting == 1, "the second video is asked once the first is answered")

        edge.cache.release()
        edge.channel.embeddedEventLoop.run()
        #expect(Self.answers(try edge.written()) == ["302 videos/vid-b.mp4"])
        #expect(edge.cache.waiting == 0)

        // The connection goes on serving: the next request is asked and answered the same way.
        try edge.send(Edge.get("/v/vid-c"))
        edge.cache.release()
        edge.channel.embeddedEventLoop.run()
        #expect(Self.answers(try edge.written()) == ["302 videos/vid-c.mp4"])
        _ = try edge.channel.finish()
    }

    /// A shared cache that answers inside the call (here: a completed future on the connection's loop) calls the
    /// callback before `answer` returns `.pending`: the reply is written once, in order, and reading goes on.
    @Test func aReplyGivenBeforeTheAnswerReturnsIsWrittenOnceInOrder() async throws {
        let edge = try await Edge.make()
        edge.cache.holding = false
        try edge.send(Edge.get("/v/vid-a"), Edge.get("/v/vid-b"), Edge.get("/healthz"), Edge.get("/v/vid-c"))
        #expect(Self.answers(try edge.written()) == ["302 videos/vid-a.mp4", "302 videos/vid-b.mp4", "200", "302 videos/vid-c.mp4"])
        #expect(edge.cache.inner.readCount >= 3)
        try edge.send(Edge.get("/v/vid-b"))
        #expect(Self.answers(try edge.written()) == ["302 videos/vid-b.mp4"])
        _ = try edge.channel.finish()
    }

    /// The client leaves while its answer waits: the reply that comes afterwards writes nothing and the handler
    /// stays quiet (no write to a closed channel, no answer to a request that was never read).
    @Test func aReplyAfterTheConnectionClosedWritesNothing() async throws {
        let edge = try await Edge.make()
        try edge.send(Edge.get("/v/vid-a"), Edge.get("/v/vid-b"))
        #expect(edge.cache.waiting == 1)
        try edge.channel.close().wait()
        edge.channel.embeddedEventLoop.run()
        edge.cache.release()
        edge.channel.embeddedEventLoop.run()
        #expect(try edge.written().isEmpty)
        #expect(edge.cache.waiting == 0, "the queued request behind it is dropped, not asked")
    }

    /// Answers are written from the guard's place (`ConnectionGuard.send`); with the guard out of the pipeline the
    /// handler writes them itself, and an answer that ends the connection still closes it.
    @Test func withTheGuardGoneAnswersAreStillWrittenAndCloseTheConnection() async throws {
        let edge = try await Edge.make()
        edge.cache.holding = false
        let connectionGuard = try edge.channel.pipeline.syncOperations.handler(type: ConnectionGuard.self)
        try edge.channel.pipeline.syncOperations.removeHandler(connectionGuard).wait()
        try edge.send(Edge.get("/v/vid-a"), Edge.get("/healthz"))
        #expect(Self.answers(try edge.written()) == ["302 videos/vid-a.mp4", "200"])
        #expect(edge.channel.isActive)
        try edge.send("GET /healthz HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n")
        #expect(Self.answers(try edge.written()) == ["200"])
        #expect(!edge.channel.isActive, "the answer to `Connection: close` closes the connection")
    }

    /// The handler and the reply callback it hands the responder hold each other: closing the connection must free
    /// the handler, at once when no answer waits, and once the waiting answer arrives otherwise (thousands of
    /// connections a minute would otherwise leak one handler each).
    @Test(arguments: [false, true])
    func aClosedConnectionsHandlerIsFreed(whileAnAnswerWaits: Bool) async throws {
        let edge = try await Edge.make()
        weak var handler = try edge.channel.pipeline.syncOperations.handler(type: EdgeHandler<EdgeService>.self)
        #expect(handler != nil)
        edge.cache.holding = whileAnAnswerWaits
        try edge.send(Edge.get("/v/vid-a"))
        #expect(edge.cache.waiting == (whileAnAnswerWaits ? 1 : 0))
        try edge.channel.close().wait()
        edge.channel.embeddedEventLoop.run()
        edge.cache.release()
        edge.channel.embeddedEventLoop.run()
        #expect(handler == nil, "the closed connection's handler is still referenced")
    }
}
