public import NIOCore
import NIOHTTP1

/// Where a responder sends an answer it gives later (`EdgeAnswer.pending`): called once, on the connection's loop.
typealias EdgeReplyCallback = @Sendable (EdgeReply) -> Void

/// An edge answer: ready now (cached record, health, refusals), later through the callback the responder was given
/// (a `/v` whose record comes from Redis or Postgres: no future is made for it), or after a future that completes
/// on the connection's event loop (the rarer waits: `/s`, `/readyz`, a shared rate limit).
enum EdgeAnswer {
    case now(EdgeReply)
    /// The responder calls the `reply` callback it was given, exactly once, on the connection's loop.
    case pending
    case later(EventLoopFuture<EdgeReply>)

    /// The answer as a future, for the callers that chain one: `answer` is the call that takes `reply`.
    static func future(on loop: any EventLoop, _ answer: (@escaping EdgeReplyCallback) -> EdgeAnswer) -> EventLoopFuture<EdgeReply> {
        let promise = loop.makePromise(of: EdgeReply.self)
        switch answer({ promise.succeed($0) }) {
        case .now(let reply): promise.succeed(reply)
        case .pending: break
        case .later(let future): future.cascade(to: promise)
        }
        return promise.futureResult
    }
}

/// What `EdgeHandler` asks for each request. `EdgeService` in production; the handler is generic over it, so the
/// seam costs no dynamic dispatch, and fuzzing drives the real connection handling with a stand-in.
protocol EdgeResponder: AnyObject, SendableMetatype {
    /// Whether answers depend on the client's address (rate limits): the handler reads it only then.
    var needsPeerAddress: Bool { get }
    /// The answer when a waiting answer failed (a dependency did not answer in time).
    var dependencyDown: EdgeReply { get }
    /// `reply` is used only when the answer is `.pending`.
    func answer(_ request: EdgeRequestHead, peer: SocketAddress?, on loop: any EventLoop, reply: @escaping EdgeReplyCallback) -> EdgeAnswer
}

/// The edge connection's handlers, in one place: `EdgeServer` installs them on each accepted connection, and the
/// fuzzer on an `EmbeddedChannel`.
enum EdgePipeline {
    static func install<Responder: EdgeResponder>(
        on channel: any Channel, responder: Responder, limits: GatewayConfiguration, metrics: EdgeMetrics, date: HTTPDate
    ) throws {
        let pipeline = channel.pipeline.syncOperations
        let connectionGuard = ConnectionGuard(headTimeout: TimeAmount(limits.headTimeout), idleTimeout: TimeAmount(limits.idleTimeout))
        try pipeline.addHandler(connectionGuard)
        // EdgeHandler reads requests with the edge's own strict decoder (EdgeRequestDecoder), answers, and writes whole
        // responses itself (see EdgeReply).
        try pipeline.addHandler(
            EdgeHandler(
                decoder: EdgeRequestDecoder(configuration: limits), service: responder, metrics: metrics, date: date,
                connectionGuard: connectionGuard))
    }
}

extension EdgeService {
    /// For the micro-benchmarks (`Benchmarks/Benchmarks/Edge`): this service's connection handling, exactly as
    /// `EdgeServer` installs it, on a channel of the caller's (an `EmbeddedChannel`), so a request's allocations and
    /// instructions can be counted without a socket.
    @_spi(Benchmarks)
    public func install(on channel: any Channel) throws {
        try EdgePipeline.install(on: channel, responder: self, limits: configuration, metrics: EdgeMetrics(), date: HTTPDate())
    }
}

/// For the fuzzer (`Tests/Fuzz`): the edge's real connection handling — guard, decoder, handler — on a channel of
/// the caller's (an `EmbeddedChannel`), answering from a stand-in: `/healthz` 200 at once, paths starting `/later`
/// after `completeOne()` (as answers that wait for Redis do), anything else 404 at once. The waiting answers take
/// both of the handler's ways in turn: the reply callback (`.pending`, as `/v` does) and a future (`.later`, as
/// `/s` and `/readyz` do).
@_spi(Fuzzing)
public final class EdgeStandIn: EdgeResponder {
    private enum Waiting {
        case callback(EdgeReplyCallback)
        case promise(EventLoopPromise<EdgeReply>)
    }

    private var pending: [Waiting] = []
    private var asked = 0

    public init() {}

    var needsPeerAddress: Bool { false }

    var dependencyDown: EdgeReply { .dependencyDown(retryAfter: GatewayConfiguration().retryAfterUnavailable) }

    func answer(_ request: EdgeRequestHead, peer: SocketAddress?, on loop: any EventLoop, reply: @escaping EdgeReplyCallback) -> EdgeAnswer {
        let uri = request.uri
        if uri.hasPrefix("/healthz") { return .now(.text(.ok, "ok\n")) }
        if uri.hasPrefix("/later") {
            asked += 1
            if asked % 2 == 1 {
                pending.append(.callback(reply))
                return .pending
            }
            let promise = loop.makePromise(of: EdgeReply.self)
            pending.append(.promise(promise))
            return .later(promise.futureResult)
        }
        return .now(.problem(.notFound))
    }

    /// Answers waiting.
    public var waiting: Int { pending.count }

    /// Completes the oldest waiting answer (200).
    public func completeOne() {
        guard !pending.isEmpty else { return }
        switch pending.removeFirst() {
        case .callback(let reply): reply(.text(.ok, "later\n"))
        case .promise(let promise): promise.succeed(.text(.ok, "later\n"))
        }
    }

    /// Installs the edge's handlers with the default limits, answering from this stand-in.
    public func install(on channel: any Channel) throws {
        try EdgePipeline.install(on: channel, responder: self, limits: GatewayConfiguration(), metrics: EdgeMetrics(), date: HTTPDate())
    }
}
