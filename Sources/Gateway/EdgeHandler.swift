import Metrics
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One HTTP/1.1 connection of the edge listener, behind `ConnectionGuard`: reads requests with the edge's decoder
/// (`EdgeRequestDecoder`), asks `EdgeService` for each answer and encodes it into one buffer (`EdgeReply.encode`),
/// which the guard writes from its place next to the socket (`ConnectionGuard.send`), on the connection's event loop.
///
/// The decoder runs here, on the bytes as they arrive, rather than in a `ByteToMessageHandler` in front: that
/// handler's generic decode loop, a pipeline hop and the cast of each request out of `NIOAny` cost about 0.4 µs per
/// request on the edge's floor (README § The edge's request decoder: what a request costs).
///
/// What `HTTPServerPipelineHandler` and `HTTPResponseEncoder` did for the first versions is done here, for the
/// edge's one shape of exchange (GET/HEAD in, a complete response out), at a fraction of their cost:
/// - pipelined requests are answered in order: while one waits for Redis or Postgres the next ones queue;
/// - reading pauses (`ConnectionGuard.pauseReading()`) while `maximumQueued` requests wait or the socket is not
///   writable (the peer does not read its answers), and resumes when both clear: what a connection holds stays
///   bounded whatever the client pipelines;
/// - a request that declares a body (`Content-Length` above 0, or any `Transfer-Encoding`) is refused by the decoder
///   as soon as its head ends, with 413, and the connection closes: the edge never waits for a body, so a client
///   cannot hold a connection by announcing one and sending nothing;
/// - answers given at once are gathered in one buffer and written together at the end of the read, one write per
///   batch; that buffer is used again for the next batch once the channel has let go of it, so a connection's
///   answers allocate nothing in steady state (`spare`);
/// - graceful shutdown (`ChannelShouldQuiesceEvent`) closes an idle connection at once, and otherwise after the
///   answers to every request already read, the last one saying `Connection: close`;
/// - a request the decoder refuses (`EdgeRequestError`: unparsable, too large, a body, a method the edge does not
///   take) is answered after the answers still owed, and the connection closes (what follows cannot be trusted to
///   frame a request).
final class EdgeHandler<Responder: EdgeResponder>: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// Complete requests that may wait behind one being answered before reading pauses.
    static var maximumQueued: Int { 16 }

    private var decoder: EdgeRequestDecoder
    /// Bytes read and not yet decoded: the start of a request whose head has not ended.
    private var received: ByteBuffer?
    /// `channelRead` is decoding: a read arriving meanwhile is appended to `received`, not decoded at once.
    private var decoding = false
    private let service: Responder
    private let metrics: EdgeMetrics
    private let date: HTTPDate
    private let connectionGuard: ConnectionGuard
    /// An answer is waiting (a future, or the responder's callback); requests completed meanwhile wait in `queued`.
    private var answering = false
    /// The request whose answer the responder will pass to `finish` (an `EdgeAnswer.pending`), and when it began.
    private var awaited: (head: EdgeRequestHead, started: NIODeadline)?
    /// Inside the responder's `answer` call: a reply passed to the callback now (a store that failed at once) is
    /// kept here and written when `answer` returns, not in the middle of it.
    private var inAnswerCall = false
    private var immediateReply: EdgeReply?
    /// The context, for `finish` (kept from `handlerAdded`).
    private var context: ChannelHandlerContext?
    /// The callback every `answer` passes to the responder, made once per connection: a closure made per request
    /// in this generic class would allocate its context every time, answered at once or not.
    private var replyCallback: EdgeReplyCallback = { _ in }
    private var queued = CircularBuffer<EdgeRequestHead>(initialCapacity: 2)
    /// Set once the connection is to close: nothing read afterwards is answered.
    private var closing = false
    /// A refusal to write once the answers owed before it are written.
    private var refusal: EdgeReply?
    private var quiescing = false
    /// Whether this handler asked the guard to stop reading.
    private var readingPaused = false
    /// The channel's writability and whether it is still open, as its events said: kept here because asking the
    /// channel costs a few reference counts and an exclusivity check per question, several times per request.
    private var writable = true
    private var inactive = false
    /// Answers written since the last flush, in one buffer; nil when none waits (nothing to flush).
    private var outbound: ByteBuffer?
    /// The last flushed buffer, kept to be cleared and written into again: once the socket has written it, nothing
    /// else refers to its storage and `clear` reuses it (if the channel still holds it, `clear` allocates anew).
    private var spare: ByteBuffer?
    /// The peer's address once asked (`peerAddress`).
    private var peer: SocketAddress?
    /// The `Date` header's text and the second it was made for: asked of the shared `HTTPDate` (and its lock) once a
    /// second per connection rather than per answer.
    private var dateSecond: Int64 = -1
    private var dateText = ""

    /// Answers gathered beyond this are written at once rather than at the end of the read, so that the channel's
    /// writability (and so `updateReading`) sees them as before.
    static var flushThreshold: Int { 16 * 1024 }
    /// A buffer that grew beyond this (a burst of pipelined answers) is not kept: an idle connection holds little.
    static var maximumSpareCapacity: Int { 4096 }

    init(decoder: EdgeRequestDecoder, service: Responder, metrics: EdgeMetrics, date: HTTPDate, connectionGuard: ConnectionGuard) {
        self.decoder = decoder
        self.connectionGuard = connectionGuard
        self.service = service
        self.metrics = metrics
        self.date = date
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let handler = LoopOwned(self)
        replyCallback = { reply in handler.value.finish(reply) }
    }

    /// Ends the cycle between this handler and its callback (the pipeline removes every handler as the channel
    /// closes). An answer still in flight keeps the handler until it arrives, and `finish` then finds no context.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        replyCallback = { _ in }
    }

    /// Decodes every request the bytes complete, in order, and answers or queues each. A refused one
    /// (`EdgeRequestError`: unparsable, too large, a body, a method the edge does not take) ends the reading: nothing
    /// after it is decoded.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing, refusal == nil else { return }
        var bytes = unwrapInboundIn(data)
        // Bytes that arrive while this loop runs (nothing delivers them so today: `ConnectionGuard` passes held bytes
        // on a later turn) wait behind the loop's: the decoder's scan offsets count from the loop's buffer.
        if decoding {
            if received == nil { received = bytes } else { received!.writeBuffer(&bytes) }
            return
        }
        decoding = true
        defer { decoding = false }
        if var pending = received.take() {
            pending.writeBuffer(&bytes)
            bytes = pending
        }
        while true {
            while !closing, refusal == nil {
                let head: EdgeRequestHead
                do throws(EdgeRequestError) {
                    guard let next = try decoder.next(&bytes) else { break }
                    head = next
                } catch {
                    refuse(error.reply, context: context)
                    return
                }
                connectionGuard.requestReceived()
                if answering {
                    queued.append(head)
                    updateReading(context: context)
                } else {
                    answer(head, context: context)
                }
            }
            guard !closing, refusal == nil else { return }
            // Bytes that arrived meanwhile continue the same stream.
            guard var arrived = received.take() else { break }
            bytes.writeBuffer(&arrived)
        }
        if bytes.readableBytes > 0 {
            bytes.discardReadBytes()
            received = bytes
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    /// Pauses reading while `maximumQueued` requests wait, the peer is not reading its answers, or a refusal waits
    /// behind them (nothing after it is read); resumes when none is true.
    private func updateReading(context: ChannelHandlerContext) {
        let pause = refusal != nil || queued.count >= Self.maximumQueued || !writable
        guard pause != readingPaused else { return }
        readingPaused = pause
        if pause { connectionGuard.pauseReading() } else { connectionGuard.resumeReading() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        updateReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    private func answer(_ head: EdgeRequestHead, context: ChannelHandlerContext) {
        let started = NIODeadline.now()
        // The address itself; it is written as text only where it is used.
        let peer = service.needsPeerAddress ? peerAddress(context: context) : nil
        inAnswerCall = true
        let answer = service.answer(head, peer: peer, on: context.eventLoop, reply: replyCallback)
        inAnswerCall = false
        switch answer {
        case .now(let reply):
            write(reply, for: head, started: started, context: context)
        case .pending:
            if let reply = immediateReply.take() {
                write(reply, for: head, started: started, context: context)
            } else {
                answering = true
                awaited = (head, started)
            }
        case .later(let future):
            answering = true
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            future.whenComplete { result in
                let (handler, context) = bound.value
                let reply = (try? result.get()) ?? handler.service.dependencyDown
                handler.answering = false
                handler.write(reply, for: head, started: started, context: context)
                handler.drain(context: context)
                handler.flushIfNeeded(context: context)
            }
        }
    }

    /// The reply to an `EdgeAnswer.pending`, from the responder on this connection's loop.
    private func finish(_ reply: EdgeReply) {
        if inAnswerCall {
            immediateReply = reply
            return
        }
        guard let context, let (head, started) = awaited.take() else { return }
        assert(context.eventLoop.inEventLoop, "an edge answer completed off its connection's loop")
        answering = false
        write(reply, for: head, started: started, context: context)
        drain(context: context)
        flushIfNeeded(context: context)
    }

    /// The connection's remote address, asked of the channel once: `remoteAddress` takes the channel's address cache
    /// through several reference counts each time, and the address does not change.
    private func peerAddress(context: ChannelHandlerContext) -> SocketAddress? {
        if let peer { return peer }
        peer = context.channel.remoteAddress
        return peer
    }

    /// Answers queued requests until one has to wait, then writes a pending refusal or finishes a shutdown.
    private func drain(context: ChannelHandlerContext) {
        while !answering, !closing, let head = queued.popFirst() {
            answer(head, context: context)
        }
        guard !answering, !closing else { return }
        if let refusal {
            self.refusal = nil
            writeAndClose(refusal, context: context)
            return
        }
        updateReading(context: context)
    }

    private func write(_ reply: EdgeReply, for head: EdgeRequestHead, started: NIODeadline, context: ChannelHandlerContext) {
        guard !inactive else { return }
        // The last answer of a shutting-down connection says so; a client asking to close gets its wish.
        let close = !head.isKeepAlive || (quiescing && queued.isEmpty && refusal == nil)
        let connection: EdgeReply.Connection =
            close ? .close : head.version.major == 1 && head.version.minor == 0 ? .keepAliveHTTP10 : .keepAlive
        let capacity = 256 + (reply.location?.utf8.count ?? 0) + reply.body.utf8.count
        var buffer = outbound.take() ?? recycledBuffer(capacity: capacity, context: context)
        reply.encode(into: &buffer, version: head.version, headOnly: head.isHEAD, connection: connection, date: currentDate())
        let finished = NIODeadline.now()
        connectionGuard.responseSent(at: finished)
        metrics.record(uri: head.uri, status: reply.status.code, started: started, finished: finished)
        if close {
            closing = true
            send(buffer, thenClose: true, context: context)
        } else {
            outbound = buffer
            if buffer.readableBytes >= Self.flushThreshold { flushIfNeeded(context: context) }
        }
    }

    private func currentDate() -> String {
        let second = Int64(time(nil))
        if second != dateSecond {
            dateSecond = second
            dateText = date.text(at: second)
        }
        return dateText
    }

    /// The spare buffer cleared, or a new one.
    private func recycledBuffer(capacity: Int, context: ChannelHandlerContext) -> ByteBuffer {
        guard var buffer = spare.take() else { return context.channel.allocator.buffer(capacity: capacity) }
        buffer.clear(minimumCapacity: capacity)
        return buffer
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        guard let buffer = outbound.take() else { return }
        send(buffer, thenClose: false, context: context)
        if buffer.capacity <= Self.maximumSpareCapacity { spare = buffer }
        if !writable { updateReading(context: context) }
    }

    /// Through the guard (`ConnectionGuard.send`); from this handler's own place should the guard have left the
    /// pipeline, so that an answer, and a close that follows it, is never dropped.
    private func send(_ buffer: ByteBuffer, thenClose: Bool, context: ChannelHandlerContext) {
        if !connectionGuard.send(buffer, thenClose: thenClose) { context.send(buffer, thenClose: thenClose) }
    }

    /// Refuses what cannot be answered (unparsable, a body): after the answers still owed, then the connection closes.
    private func refuse(_ reply: EdgeReply, context: ChannelHandlerContext) {
        if answering || !queued.isEmpty {
            // Requests already queued are still answered; nothing read from now on is, and nothing more is read.
            refusal = reply
            updateReading(context: context)
        } else {
            writeAndClose(reply, context: context)
        }
    }

    /// A refusal that ends the connection.
    private func writeAndClose(_ reply: EdgeReply, context: ChannelHandlerContext) {
        closing = true
        // Behind the answers of this read not yet written.
        var buffer = outbound.take() ?? context.channel.allocator.buffer(capacity: 256 + reply.body.utf8.count)
        reply.encode(into: &buffer, version: .http1_1, headOnly: false, connection: .close, date: date.now)
        send(buffer, thenClose: true, context: context)
        let now = NIODeadline.now()
        metrics.record(uri: "", status: reply.status.code, started: now, finished: now)
    }

    /// Any error from the channel (a reset, a failed write) closes the connection at once.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        quiescing = true
        if !answering && queued.isEmpty && !closing {
            closing = true
            flushIfNeeded(context: context)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        inactive = true
        closing = true
        received = nil
        queued.removeAll()
        outbound = nil
        spare = nil
        context.fireChannelInactive()
    }
}

/// A handler held by its own reply callback, touched only on the connection's loop, where the responder calls it
/// (the loop it was asked on). Strongly, with the cycle ended in `handlerRemoved`: a weak reference gives the
/// handler a side table, and then every retain and release of it takes the runtime's slow path, several times per
/// request (0.08 µs of each `/healthz` in a profile of 2026-12-05).
private struct LoopOwned<Handler: AnyObject>: @unchecked Sendable {
    let value: Handler
    init(_ value: Handler) { self.value = value }
}

extension EdgeRequestError {
    /// The answer to a refused request (CONTRACT § Shutdown and limits).
    var reply: EdgeReply {
        switch code.base {
        case .malformed: .problem(.malformedRequest)
        case .uriTooLong: .problem(.uriTooLong)
        case .headTooLarge: .problem(.headersTooLarge)
        case .bodyNotAllowed: .problem(.bodyTooLarge)
        case .methodNotAllowed: .methodNotAllowed
        case .methodNotImplemented: .problem(.methodNotImplemented)
        }
    }
}

/// Requests by route and status, and latency, for `/metrics`. Counters are created once per (route, status) and
/// found per request without hashing a string.
final class EdgeMetrics: Sendable {
    private enum Route: Int, CaseIterable {
        case video, share, healthz, readyz, other

        /// The route a request target starts with (`/v/`, `/s/`, `/healthz`, `/readyz`), compared as bytes: the
        /// generic `starts(with:)` over a `String.UTF8View` cost more than the rest of this record.
        init(path: UnsafeRawBufferPointer) {
            func starts(with prefix: StaticString) -> Bool {
                path.count >= prefix.utf8CodeUnitCount && memcmp(path.baseAddress!, prefix.utf8Start, prefix.utf8CodeUnitCount) == 0
            }
            if path.count >= 3 && path[0] == UInt8(ascii: "/") && path[2] == UInt8(ascii: "/") {
                self = path[1] == UInt8(ascii: "v") ? .video : path[1] == UInt8(ascii: "s") ? .share : .other
            } else if starts(with: "/healthz") {
                self = .healthz
            } else if starts(with: "/readyz") {
                self = .readyz
            } else {
                self = .other
            }
        }

        var label: String {
            switch self {
            case .video: "/v"
            case .share: "/s"
            case .healthz: "/healthz"
            case .readyz: "/readyz"
            case .other: "other"
            }
        }
    }

    private static let statuses: [UInt] = [200, 204, 302, 400, 401, 403, 404, 405, 410, 413, 414, 429, 431, 501, 503]
    private let latency: [Timer]
    /// By route, then by the status's position in `statuses`.
    private let counters: [[Counter]]
    private let refused = Counter(label: "usher_edge_connections_refused_total")

    init() {
        latency = Route.allCases.map { route in
            let label = route == .video || route == .share ? route.label : "other"
            return Timer(label: "usher_http_request_duration_seconds", dimensions: [("listener", "edge"), ("route", label)])
        }
        counters = Route.allCases.map { route in
            Self.statuses.map { Self.counter(route: route, status: $0) }
        }
    }

    private static func counter(route: Route, status: UInt) -> Counter {
        Counter(label: "usher_http_requests_total", dimensions: [("listener", "edge"), ("route", route.label), ("status", String(status))])
    }

    func connectionRefused() { refused.increment() }

    func record(uri: String, status: UInt, started: NIODeadline, finished: NIODeadline) {
        let route = uri.utf8.withContiguousStorageIfAvailable { Route(path: UnsafeRawBufferPointer($0)) } ?? .other
        if let index = Self.statuses.firstIndex(of: status) {
            counters[route.rawValue][index].increment()
        } else {
            Self.counter(route: route, status: status).increment()
        }
        latency[route.rawValue].recordNanoseconds(Int64((finished - started).nanoseconds))
    }
}
