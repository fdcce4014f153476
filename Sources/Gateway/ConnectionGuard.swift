public import NIOCore
public import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The hostile-client limits of one connection, on raw bytes in front of the HTTP decoder, for both listeners
/// (CONTRACT § Shutdown and limits):
///
/// - **time**: a whole request — head and any body — must arrive within `headTimeout` of the connection opening, or
///   of the first byte read after the previous request ended: a client trickling its head (slowloris), or declaring
///   a body it never sends, is disconnected however often it sends a byte. A keep-alive connection with no request
///   in progress is closed after `idleTimeout`. A request read in full is never cut by these timers: its answer may
///   wait for Redis or Postgres.
/// - **memory**: while the handler that reads the requests says so (`pauseReading()`: the socket is not writable
///   because the peer does not read its answers, or too many requests wait), no more bytes are passed on and the
///   socket is not read. Bytes already read are held here and passed on `chunkSize` at a time once reading resumes,
///   so one large read of pipelined requests cannot turn into an unbounded pile of answers: what a connection holds
///   is at most one socket read plus the answers to one chunk. A peer that reads none of its answers for `headTimeout`
///   (the socket stays unwritable that long) is disconnected, as nginx's `send_timeout` does.
///
/// The handler that reads the requests (the edge's `EdgeHandler`) reports each complete request
/// (`requestReceived()`) and each answer written (`responseSent()`); on the app listener an `HTTPPartObserver` does
/// it for Hummingbird.
///
/// Cheap per request by design: requests only move timestamps (no timer is scheduled or cancelled per request,
/// which cost ~30 µs of CPU per request in the first version). One timer per connection fires at most every
/// min(`headTimeout`, `idleTimeout`), closes the connection if its deadline has passed, and otherwise re-arms
/// itself at the next deadline or one step ahead, whichever comes first; a deadline set later is never earlier than
/// now + that step, so the timer never needs to be pulled forward.
public final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = NIOAny
    public typealias OutboundOut = NIOAny

    /// Bytes passed to the decoder at a time: bounds the answers one pass can produce before a pause takes effect.
    static let chunkSize = 4096

    private let headTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    /// The timer's longest step: no deadline set from now on can come sooner.
    private let step: TimeAmount
    /// Requests read in full minus answers sent (pipelined requests count one each).
    private var openRequests = 0
    /// Since when bytes of a request have been arriving whose end was not read yet; nil when none.
    private var readingSince: NIODeadline?
    /// Since when the connection has been idle (no request open, none being read).
    private var idleSince: NIODeadline
    /// Since when the socket has not been writable (the peer is not reading its answers); nil while it is.
    private var unwritableSince: NIODeadline?
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    /// The current request's first line: its length so far and whether it ended. Known only for requests that start
    /// at the beginning of a read (the first of a connection, or the next after an answer), which is every request
    /// but a pipelined one; lets an oversized head be told apart from an oversized URL (414, not 431) behind NIOHTTP1's
    /// decoder, on the app listener (the edge's `EdgeRequestDecoder` tells them apart itself).
    private var requestLine: (length: Int, ended: Bool)?
    /// Set by the handler that reads the requests; see the type's doc.
    private var paused = false
    /// Bytes read from the socket and not yet passed on.
    private var held: ByteBuffer?
    /// A `read()` was held back while paused.
    private var readWanted = false
    /// Passing bytes on: `resumeReading()` called from inside does not start a second pass.
    private var forwarding = false
    /// Between `channelActive` and `channelInactive`: kept here rather than asked of the channel for every read.
    private var active = false

    public init(headTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
        self.step = min(headTimeout, idleTimeout)
        self.idleSince = .now()
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        if timer == nil { start(context: context) }
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        active = true
        // A connection that sends nothing is held to the same deadline as one that sends half a request.
        let now = NIODeadline.now()
        readingSince = now
        requestLine = (0, false)
        arm(at: now + step, context: context)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if readingSince == nil {
            // The first bytes of the next request: the whole of it must now arrive within headTimeout.
            readingSince = .now()
            if openRequests == 0 { requestLine = (0, false) }
        }
        if var line = requestLine, !line.ended {
            buffer.withUnsafeReadableBytes { bytes in
                if let base = bytes.baseAddress, let newline = memchr(base, Int32(UInt8(ascii: "\n")), bytes.count) {
                    line.length += base.distance(to: newline)
                    line.ended = true
                } else {
                    line.length += bytes.count
                }
            }
            requestLine = line
        }
        if held != nil {
            held!.writeBuffer(&buffer)
            return
        }
        if !paused, active, buffer.readableBytes <= Self.chunkSize {
            // The usual read: passed on as it came, without a slice and a new box for it.
            let wasForwarding = forwarding
            forwarding = true
            context.fireChannelRead(data)
            forwarding = wasForwarding
            return
        }
        forward(buffer, context: context)
    }

    /// Passes `buffer` on in chunks until it is empty or reading is paused; holds the rest.
    private func forward(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        var buffer = buffer
        forwarding = true
        defer { forwarding = false }
        while buffer.readableBytes > 0 {
            guard !paused, active else {
                if held == nil { held = buffer } else { held!.writeBuffer(&buffer) }
                return
            }
            let slice = buffer.readableBytes <= Self.chunkSize ? buffer : buffer.getSlice(at: buffer.readerIndex, length: Self.chunkSize)!
            buffer.moveReaderIndex(forwardBy: slice.readableBytes)
            context.fireChannelRead(wrapInboundOut(slice))
        }
    }

    /// Reading is held while paused, and while bytes already read wait to be passed on.
    public func read(context: ChannelHandlerContext) {
        if paused || held != nil {
            readWanted = true
        } else {
            context.read()
        }
    }

    /// Stop passing bytes on and reading the socket (the handler behind cannot take more answers now).
    public func pauseReading() {
        paused = true
    }

    /// Pass on what is held, then read the socket again if it was asked for. Done on a later turn of the event
    /// loop, so the decoder is never re-entered from its own handler's call.
    public func resumeReading() {
        guard paused, let context else { return }
        paused = false
        guard !forwarding else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute { bound.value.passHeld() }
    }

    private func passHeld() {
        guard let context, !paused, !forwarding else { return }
        if let buffer = held {
            held = nil
            forward(buffer, context: context)
            context.fireChannelReadComplete()
        }
        if !paused && held == nil && readWanted {
            readWanted = false
            context.read()
        }
    }

    /// Whether the head being read has a first line over `EdgeRequest.maximumURILength` (or one still open past it):
    /// its overflow is an oversized URL.
    public var requestLineTooLong: Bool {
        guard let requestLine else { return false }
        return requestLine.length > EdgeRequest.maximumURILength
    }

    /// The handler that reads the requests has read one in full (head, and body if any).
    public func requestReceived() {
        requestLine = nil
        openRequests += 1
        readingSince = nil
    }

    /// The handler that reads the requests wrote an answer in full, at `time` (the edge passes the time it read for
    /// its latency metric: one clock read per answer, not two).
    public func responseSent(at time: NIODeadline = .now()) {
        openRequests = max(0, openRequests - 1)
        if openRequests == 0 { idleSince = time }
    }

    /// Writes and flushes the answers of the handler behind, from the guard's own place in the pipeline, the one next
    /// to the socket; `thenClose`: the connection closes once they are written. The guard looks at no write, and
    /// passing each answer through it (a write and a flush, each a pipeline hop with its reference counts) cost a
    /// few retains and releases per request on the edge (README § What each cut bought). False, and nothing
    /// written, once the guard has left the pipeline: the caller then writes from its own place.
    @discardableResult
    public func send(_ buffer: ByteBuffer, thenClose: Bool = false) -> Bool {
        guard let context else { return false }
        context.send(buffer, thenClose: thenClose)
        return true
    }

    /// The problem a parser error answers: an oversized URL 414, any other oversized head 431, anything else 400.
    func problem(for error: HTTPParserError) -> Problem {
        error != .headerOverflow ? .malformedRequest : requestLineTooLong ? .uriTooLong : .headersTooLarge
    }

    /// Answers a parser error straight to the socket, as the edge does, and closes the connection: for the app
    /// listener, whose Hummingbird pipeline would close without an answer.
    public func refuse(_ error: HTTPParserError) {
        guard let context, active else { return }
        var buffer = context.channel.allocator.buffer(capacity: 512)
        EdgeReply.problem(problem(for: error)).encode(
            into: &buffer, version: .http1_1, headOnly: false, connection: .close, date: HTTPDate.format(Int64(time(nil))))
        paused = true
        held = nil
        context.send(buffer, thenClose: true)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            unwritableSince = nil
        } else if unwritableSince == nil {
            unwritableSince = .now()
        }
        context.fireChannelWritabilityChanged()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        active = false
        timer?.cancel()
        timer = nil
        held = nil
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    /// When the connection is closed unless something happens; nil while a request read in full is being answered
    /// to a peer that reads.
    private var deadline: NIODeadline? {
        var deadline: NIODeadline?
        if let readingSince {
            deadline = readingSince + headTimeout
        } else if openRequests == 0 {
            deadline = idleSince + idleTimeout
        }
        if let unwritableSince { deadline = min(deadline ?? .distantFuture, unwritableSince + headTimeout) }
        return deadline
    }

    private func arm(at time: NIODeadline, context: ChannelHandlerContext) {
        // Holds the handler until it fires or is cancelled (at the latest when the channel goes inactive).
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: time) { bound.value.fire() }
    }

    private func fire() {
        guard let context, active else { return }
        let now = NIODeadline.now()
        let deadline = self.deadline
        if let deadline, deadline <= now {
            context.close(promise: nil)
            return
        }
        arm(at: min(deadline ?? .distantFuture, now + step), context: context)
    }
}

extension ChannelHandlerContext {
    /// Writes and flushes `buffer` from this context's place in the pipeline; `thenClose`: the channel closes once it
    /// is written. The one way the edge and the guard send an answer, and the answer that ends a connection.
    func send(_ buffer: ByteBuffer, thenClose: Bool) {
        guard thenClose else {
            writeAndFlush(NIOAny(buffer), promise: nil)
            return
        }
        writeAndFlush(NIOAny(buffer)).whenComplete { [channel] _ in channel.close(promise: nil) }
    }
}
