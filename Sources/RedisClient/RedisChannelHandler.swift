import NIOCore

/// One command in flight: its arguments going out, its promise waiting for the matching reply.
struct RedisCommand {
    let arguments: [[UInt8]]
    let promise: EventLoopPromise<RESPValue>
}

/// Pipelines commands over one connection: replies come back in order, so the oldest waiting promise takes the
/// next reply. Commands are formatted by hiredis and replies parsed by its reader.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisCommand
    typealias OutboundOut = ByteBuffer

    private let reader = HiredisReader()
    private var waiting = CircularBuffer<EventLoopPromise<RESPValue>>(initialCapacity: 16)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = unwrapOutboundIn(data)
        var buffer = context.channel.allocator.buffer(capacity: 64)
        HiredisFormatter.format(command.arguments) { buffer.writeBytes($0) }
        waiting.append(command.promise)
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            try buffer.withUnsafeReadableBytes { bytes throws(RedisError) in try reader.feed(bytes) }
            while let reply = try reader.nextReply() {
                guard let promise = waiting.popFirst() else {
                    throw RedisError(.protocolError, "a reply arrived with no command waiting")
                }
                promise.succeed(reply)
            }
        } catch {
            failAll(error as? RedisError ?? RedisError(.protocolError, "\(error)"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError(.connectionClosed))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RedisError(.connectionClosed, "\(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        while let promise = waiting.popFirst() { promise.fail(error) }
    }
}
