import NIOCore

/// Where a command's reply goes: a promise (callers that chain futures) or a callback run on the connection's
/// loop. The edge's GET takes a callback for its value: it already answers inside a callback, and a promise would
/// cost it a future and the closure that waits on it, per request.
enum RedisReplyTarget {
    case promise(EventLoopPromise<RESPValue>)
    /// A `GET`-like reply: a bulk string's bytes, nil for anything else but an error reply, which fails it.
    case value(@Sendable (Result<[UInt8]?, any Error>) -> Void)
    /// The reply as it came, error replies included (a cluster's read looks for its redirects).
    case reply(@Sendable (Result<RESPValue, any Error>) -> Void)

    func succeed(_ reply: RESPValue) {
        switch self {
        case .promise(let promise): promise.succeed(reply)
        case .value(let callback): callback(Result { try reply.getValue() })
        case .reply(let callback): callback(.success(reply))
        }
    }

    func fail(_ error: any Error) {
        switch self {
        case .promise(let promise): promise.fail(error)
        case .value(let callback): callback(.failure(error))
        case .reply(let callback): callback(.failure(error))
        }
    }

    func complete(_ result: Result<RESPValue, any Error>) {
        switch result {
        case .success(let reply): succeed(reply)
        case .failure(let error): fail(error)
        }
    }
}

/// One command in flight through the pipeline (the handshake's): its arguments going out, its promise waiting for
/// the matching reply. `RedisLoopConnection` hands later commands to `enqueue` directly.
struct PendingCommand {
    let arguments: [[UInt8]]
    let promise: EventLoopPromise<RESPValue>
}

/// Pipelines commands over one connection: replies come back in order, so the oldest waiting command takes the
/// next reply. Commands are formatted by hiredis and replies parsed by its reader.
///
/// Every command must be answered within `commandTimeout`, or all waiting commands fail and the connection closes
/// (a late reply would otherwise answer the wrong command). One timer per connection enforces it, armed at the
/// oldest command's deadline: scheduling and cancelling a timer per command cost more than the GET itself.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = PendingCommand
    typealias OutboundOut = ByteBuffer

    /// Room for a tick's worth of GETs (about 50 bytes each) before the buffer has to grow.
    static let outboundCapacity = 4096

    private let reader = HiredisReader()
    private let commandTimeout: TimeAmount
    private var waiting = CircularBuffer<(reply: RedisReplyTarget, deadline: NIODeadline)>(initialCapacity: 16)
    private var timer: Scheduled<Void>?
    /// The commands written since the last flush, formatted into one buffer: a tick's GETs (`RedisLoopConnection`
    /// flushes once a tick) cost one buffer and one write down the pipeline, not one of each per command.
    private var outbound: ByteBuffer?
    /// Write promises of the commands in `outbound` (callers pass none today), completed with its write.
    private var outboundPromise: EventLoopPromise<Void>?
    /// Set from `handlerAdded` until the channel goes inactive: `enqueue` refuses commands outside it, which no reply
    /// would ever answer. (The handshake's commands, written through the pipeline, come before `channelActive`: NIO
    /// completes the connect promise first.)
    private var context: ChannelHandlerContext?

    init(commandTimeout: TimeAmount) {
        self.commandTimeout = commandTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Queues one command without passing it down the pipeline (no `NIOAny` wrapping, no pipeline hop): the
    /// connection's owner calls this on the channel's loop and flushes the channel at the end of the tick.
    func enqueue(_ arguments: [[UInt8]], reply: RedisReplyTarget) {
        guard let context else {
            reply.fail(RedisError(.connectionClosed))
            return
        }
        enqueue(arguments, reply: reply, context: context)
    }

    private func enqueue(_ arguments: [[UInt8]], reply: RedisReplyTarget, context: ChannelHandlerContext) {
        var buffer = outbound ?? context.channel.allocator.buffer(capacity: Self.outboundCapacity)
        outbound = nil
        HiredisFormatter.format(arguments) { buffer.writeBytes($0) }
        outbound = buffer
        let deadline = NIODeadline.now() + commandTimeout
        waiting.append((reply, deadline))
        if timer == nil { arm(at: deadline, context: context) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = unwrapOutboundIn(data)
        enqueue(command.arguments, reply: .promise(command.promise), context: context)
        if let promise {
            if let outboundPromise { outboundPromise.futureResult.cascade(to: promise) } else { outboundPromise = promise }
        }
    }

    func flush(context: ChannelHandlerContext) {
        if let buffer = outbound {
            let promise = outboundPromise
            outbound = nil
            outboundPromise = nil
            context.write(wrapOutboundOut(buffer), promise: promise)
        }
        context.flush()
    }

    private func arm(at deadline: NIODeadline, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.timer = nil
            guard let oldest = handler.waiting.first else { return }
            if oldest.deadline <= .now() {
                handler.failAll(RedisError(.timeout))
                context.close(promise: nil)
            } else {
                handler.arm(at: oldest.deadline, context: context)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            try buffer.withUnsafeReadableBytes { bytes throws(RedisError) in try reader.feed(bytes) }
            while let reply = try reader.nextReply() {
                guard let command = waiting.popFirst() else {
                    throw RedisError(.protocolError, "a reply arrived with no command waiting")
                }
                command.reply.succeed(reply)
            }
        } catch {
            failAll(error as? RedisError ?? RedisError(.protocolError, "\(error)"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
        timer = nil
        outbound = nil
        outboundPromise?.fail(RedisError(.connectionClosed))
        outboundPromise = nil
        failAll(RedisError(.connectionClosed))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RedisError(.connectionClosed, "\(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        while let command = waiting.popFirst() { command.reply.fail(error) }
    }
}
