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
    private var request: HTTPRequestHead?

    init(service: EdgeService, metrics: EdgeMetrics, date: HTTPDate) {
        self.service = service
        self.metrics = metrics
        self.date = date
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break  // GET and HEAD carry no body worth reading.
        case .end:
            guard let head = request else { return }
            request = nil
            let started = NIODeadline.now()
            switch service.answer(method: head.method, uri: head.uri, headers: head.headers, on: context.eventLoop) {
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
        if !keepAlive { done.futureResult.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) } }
        metrics.record(uri: head.uri, status: reply.status.code, started: started)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Requests by route and status, and latency, for `/metrics`. Counters are created once per (route, status).
final class EdgeMetrics: Sendable {
    private let latencyV = Timer(label: "usher_http_request_duration_seconds", dimensions: [("listener", "edge"), ("route", "/v")])
    private let latencyS = Timer(label: "usher_http_request_duration_seconds", dimensions: [("listener", "edge"), ("route", "/s")])
    private let latencyOther = Timer(label: "usher_http_request_duration_seconds", dimensions: [("listener", "edge"), ("route", "other")])
    private let counters: [String: [UInt: Counter]]

    init() {
        var counters: [String: [UInt: Counter]] = [:]
        for route in ["/v", "/s", "/healthz", "/readyz", "other"] {
            var byStatus: [UInt: Counter] = [:]
            for status: UInt in [200, 302, 400, 401, 403, 404, 405, 410, 414, 429, 503] {
                byStatus[status] = Counter(label: "usher_http_requests_total", dimensions: [("listener", "edge"), ("route", route), ("status", String(status))])
            }
            counters[route] = byStatus
        }
        self.counters = counters
    }

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
