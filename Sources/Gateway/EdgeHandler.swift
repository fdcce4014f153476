import Metrics
import NIOCore
import NIOHTTP1

/// One HTTP/1.1 connection of the edge listener. Parses nothing itself (NIOHTTP1 does), asks `EdgeService`
/// for the answer and writes it, on the connection's event loop. Pipelined requests are serialised by
/// `HTTPServerPipelineHandler` in front of it.
final class EdgeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let service: EdgeService
    private let metrics: EdgeMetrics
    private let date: HTTPDate
    private let maximumBodyBytes: Int
    private let connectionGuard: EdgeConnectionGuard
    private var request: HTTPRequestHead?
    private var bodyBytes = 0
    /// Responses not written yet (pipelined requests wait in `HTTPServerPipelineHandler`, so at most one here).
    private var pending = 0

    init(service: EdgeService, metrics: EdgeMetrics, date: HTTPDate, maximumBodyBytes: Int, connectionGuard: EdgeConnectionGuard) {
        self.connectionGuard = connectionGuard
        self.service = service
        self.metrics = metrics
        self.date = date
        self.maximumBodyBytes = maximumBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
            bodyBytes = 0
            connectionGuard.requestHeadReceived()
        case .body(let buffer):
            // GET and HEAD carry no body worth reading; a large one is refused rather than read to its end.
            bodyBytes += buffer.readableBytes
            if bodyBytes > maximumBodyBytes, let head = request {
                request = nil
                if pending == 0 { writeAndClose(.problem(.bodyTooLarge), version: head.version, context: context) } else { context.close(promise: nil) }
            }
        case .end:
            guard let head = request else { return }
            request = nil
            pending += 1
            let started = NIODeadline.now()
            let peer = service.rateLimiter.isEnabled ? context.channel.remoteAddress?.ipAddress : nil
            switch service.answer(method: head.method, uri: head.uri, headers: head.headers, peer: peer, on: context.eventLoop) {
            case .now(let reply):
                write(reply, for: head, started: started, context: context)
            case .later(let future):
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                future.whenComplete { result in
                    let (handler, context) = bound.value
                    let reply = (try? result.get()) ?? .problem(.dependencyDown, extraHeaders: [("Retry-After", "2")])
                    handler.write(reply, for: head, started: started, context: context)
                }
            }
        }
    }

    private func write(_ reply: EdgeReply, for head: HTTPRequestHead, started: NIODeadline, context: ChannelHandlerContext) {
        var headers = reply.headers
        let body = head.method == .HEAD ? "" : reply.body
        headers.add(name: "Content-Length", value: String(reply.body.utf8.count))
        headers.add(name: "Date", value: date.now)
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: reply.status, headers: headers))), promise: nil)
        if !body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
            buffer.writeString(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        pending -= 1
        connectionGuard.responseSent()
        if !keepAlive { done.futureResult.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) } }
        metrics.record(uri: head.uri, status: reply.status.code, started: started)
    }

    /// A refusal that ends the connection: the rest of what the client sent cannot be trusted to frame a request.
    private func writeAndClose(_ reply: EdgeReply, version: HTTPVersion, context: ChannelHandlerContext) {
        var headers = reply.headers
        headers.add(name: "Content-Length", value: String(reply.body.utf8.count))
        headers.add(name: "Date", value: date.now)
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: reply.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        metrics.record(uri: "", status: reply.status.code, started: .now())
    }

    /// Parser errors reach here only when no response is pending (the pipeline handler holds them back until then):
    /// an oversized head gets 431, anything else unparsable 400, and the connection closes.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError, pending == 0, context.channel.isActive else {
            context.close(promise: nil)
            return
        }
        let problem: Problem = parserError == .headerOverflow ? .headersTooLarge : .malformedRequest
        writeAndClose(.problem(problem), version: .http1_1, context: context)
    }
}

/// Requests by route and status, and latency, for `/metrics`. Counters are created once per (route, status).
final class EdgeMetrics: Sendable {
    private let latencyV = Timer(label: "usher_http_request_duration_seconds", dimensions: [("listener", "edge"), ("route", "/v")])
    private let latencyS = Timer(label: "usher_http_request_duration_seconds", dimensions: [("listener", "edge"), ("route", "/s")])
    private let latencyOther = Timer(label: "usher_http_request_duration_seconds", dimensions: [("listener", "edge"), ("route", "other")])
    private let counters: [String: [UInt: Counter]]
    private let refused = Counter(label: "usher_edge_connections_refused_total")

    init() {
        var counters: [String: [UInt: Counter]] = [:]
        for route in ["/v", "/s", "/healthz", "/readyz", "other"] {
            var byStatus: [UInt: Counter] = [:]
            for status: UInt in [200, 302, 400, 401, 403, 404, 405, 410, 413, 414, 429, 431, 503] {
                byStatus[status] = Counter(label: "usher_http_requests_total", dimensions: [("listener", "edge"), ("route", route), ("status", String(status))])
            }
            counters[route] = byStatus
        }
        self.counters = counters
    }

    func connectionRefused() { refused.increment() }

    func record(uri: String, status: UInt, started: NIODeadline) {
        let route: String
        let timer: Timer
        let path = uri.utf8
        if path.starts(with: "/v/".utf8) {
            route = "/v"
            timer = latencyV
        } else if path.starts(with: "/s/".utf8) {
            route = "/s"
            timer = latencyS
        } else {
            route = path.starts(with: "/healthz".utf8) ? "/healthz" : path.starts(with: "/readyz".utf8) ? "/readyz" : "other"
            timer = latencyOther
        }
        if let counter = counters[route]?[status] {
            counter.increment()
        } else {
            Counter(label: "usher_http_requests_total", dimensions: [("listener", "edge"), ("route", route), ("status", String(status))]).increment()
        }
        timer.recordNanoseconds(Int64((NIODeadline.now() - started).nanoseconds))
    }
}
