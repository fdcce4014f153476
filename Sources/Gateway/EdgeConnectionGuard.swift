#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Time limits of one edge connection, on raw bytes in front of the HTTP decoder (CONTRACT § Shutdown and limits):
///
/// - a request head must be complete within `headTimeout` of the connection opening, or of the first byte of a
///   later request: a client trickling its headers (slowloris) is disconnected, however often it sends a byte;
/// - a keep-alive connection with no request in progress is closed after `idleTimeout`.
///
/// A request whose head was read is never cut by these timers: its answer may wait for Redis or Postgres.
///
/// Cheap per request by design: requests only move a deadline (no timer is scheduled or cancelled per request,
/// which cost ~30 µs of CPU per request in the first version). One timer per connection fires at most every
/// min(`headTimeout`, `idleTimeout`), closes the connection if its deadline has passed, and otherwise re-arms
/// itself. Since a new deadline is never earlier than now + that step, the timer never needs to be pulled forward.
final class EdgeConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let headTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    /// The timer's longest step: no deadline set from now on can come sooner.
    private let step: TimeAmount
    /// Heads received minus responses sent (pipelined requests count one each).
    private var openRequests = 0
    /// Bytes of a request arrived whose head is not complete yet.
    private var waitingForHead = false
    /// When the connection is closed unless something happens; nil while a request is being answered.
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    /// The current request's first line: its length so far and whether it ended. Known only for requests that start
    /// at the beginning of a read (the first of a connection, or the next after an answer), which is every request
    /// but a pipelined one; lets an oversized head be told apart from an oversized URL (414, not 431).
    private var requestLine: (length: Int, ended: Bool)?

    init(headTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
        self.step = min(headTimeout, idleTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        waitingForHead = true
        requestLine = (0, false)
        let now = NIODeadline.now()
        deadline = now + headTimeout
        arm(at: now + step, context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !waitingForHead && openRequests == 0 {
            // The first bytes of the next request: its head must now arrive within headTimeout.
            waitingForHead = true
            deadline = .now() + headTimeout
            requestLine = (0, false)
        }
        if var line = requestLine, !line.ended {
            unwrapInboundIn(data).withUnsafeReadableBytes { bytes in
                if let base = bytes.baseAddress, let newline = memchr(base, Int32(UInt8(ascii: "\n")), bytes.count) {
                    line.length += base.distance(to: newline)
                    line.ended = true
                } else {
                    line.length += bytes.count
                }
            }
            requestLine = line
        }
        context.fireChannelRead(data)
    }

    /// Whether the head being read has a first line over `EdgeRequest.maximumURILength` (or one still open past it):
    /// its overflow is an oversized URL.
    var requestLineTooLong: Bool {
        guard let requestLine else { return false }
        return requestLine.length > EdgeRequest.maximumURILength
    }

    /// `EdgeHandler` parsed a request head.
    func requestHeadReceived() {
        requestLine = nil
        openRequests += 1
        waitingForHead = false
        deadline = nil
    }

    /// `EdgeHandler` wrote a response in full.
    func responseSent() {
        openRequests = max(0, openRequests - 1)
        if openRequests == 0 && !waitingForHead { deadline = .now() + idleTimeout }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    private func arm(at time: NIODeadline, context: ChannelHandlerContext) {
        // Holds the handler until it fires or is cancelled (at the latest when the channel goes inactive).
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: time) { bound.value.fire() }
    }

    private func fire() {
        guard let context, context.channel.isActive else { return }
        let now = NIODeadline.now()
        if let deadline, deadline <= now {
            context.close(promise: nil)
            return
        }
        arm(at: min(deadline ?? .distantFuture, now + step), context: context)
    }
}
