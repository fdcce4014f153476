import NIOCore

/// One command in flight: its arguments going out, its promise waiting for the matching reply.
struct PendingCommand {
    let arguments: [[UInt8]]
    let promise: EventLoopPromise<RESPValue>
}

/// Pipelines commands over one connection: replies come back in order, so the oldest waiting promise takes the
/// next reply. Commands are formatted by hiredis and replies parsed by its reader.
///
/// Every command must be answered within `commandTimeout`, or all waiting commands fail and the connection closes
/// (a late reply would otherwise answer the wrong command). One timer per connection enforces it, armed at the
/// oldest command's deadline: scheduling and cancelling a timer per command cost more than the GET itself.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = PendingCommand
    typealias OutboundOut = ByteBuffer

    private let reader = HiredisReader()
    private let commandTimeout: TimeAmount
    private var waiting = CircularBuffer<(promise: EventLoopPromise<RESPValue>, deadline: NIODeadline)>(initialCapacity: 16)
    private var timer: Scheduled<Void>?
    /// The commands written since the last flush, formatted into one buffer: a tick's GETs (`RedisLoopConnection`
    /// flushes once a tick) cost one buffer and one write down the pipeline, not one of each per command.
    private var outbound: ByteBuffer?
    /// Write promises of the commands in `outbound` (callers pass none today), completed with its write.
    private var outboundPromise: EventLoopPromise<Void>?

    init(commandTimeout: TimeAmount) {
        self.commandTimeout = commandTimeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = unwrapOutboundIn(data)
        var buffer = outbound ?? context.channel.allocator.buffer(capacity: 512)
        outbound = nil
        HiredisFormatter.format(command.arguments) { buffer.writeBytes($0) }
        outbound = buffer
        if let promise {
            if let outboundPromise { outboundPromise.futureResult.cascade(to: promise) } else { outboundPromise = promise }
        }
        let deadline = NIODeadline.now() + commandTimeout
        waiting.append((command.promise, deadline))
        if timer == nil { arm(at: deadline, context: context) }
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
                command.promise.succeed(reply)
            }
        } catch {
            failAll(error as? RedisError ?? RedisError(.protocolError, "\(error)"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
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
        while let command = waiting.popFirst() { command.promise.fail(error) }
    }
}
