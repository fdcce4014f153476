public import Delivery
import Gateway
import HTTPTypes
public import HummingbirdCore
public import Logging
public import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Hummingbird's HTTP/1.1 channel with the edge's `ConnectionGuard` in front of its decoder, so the app listener,
/// where fal's webhook faces the internet, has the same hostile-client limits as the edge: a whole request within
/// `headTimeout` of its first byte, idle keep-alive connections closed after `idleTimeout`, an oversized URL
/// answered 414 and an oversized head 431. Hummingbird's `additionalChannelHandlers` sit after the decoder and see
/// parsed parts only, which is too late to cut a client trickling its head; the guard sees raw bytes.
///
/// Output: Hummingbird answers one request at a time through `NIOAsyncChannel`, whose writer waits while the socket
/// is not writable and whose reader stops reading when requests are not taken. The socket's send buffer is fixed at
/// `sendBufferBytes` (as the edge's): autotuned, it would take up to 4 MiB of answers a peer never reads before the
/// socket is unwritable and the guard's clock starts, seconds of work for a client that reads nothing.
public struct GuardedHTTP1Channel: ServerChildChannel {
    public typealias Value = HTTP1Channel.Value

    let responder: HTTPChannelHandler.Responder
    let configuration: HTTP1Channel.Configuration
    let headTimeout: TimeAmount
    let idleTimeout: TimeAmount
    let sendBufferBytes: Int

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let connectionGuard = ConnectionGuard(headTimeout: headTimeout, idleTimeout: idleTimeout)
        do {
            try channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(sendBufferBytes))
            try channel.pipeline.syncOperations.addHandler(connectionGuard)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        // Called once, on the channel's loop, while HTTP1Channel sets the pipeline up.
        let bound = NIOLoopBound(connectionGuard, eventLoop: channel.eventLoop)
        var configuration = self.configuration
        let others = configuration.additionalChannelHandlers
        configuration.additionalChannelHandlers = { [HTTPPartObserver(connectionGuard: bound.value)] + others() }
        return HTTP1Channel(responder: responder, configuration: configuration).setup(channel: channel, logger: logger)
    }

    public func handle(value: Value, logger: Logger) async {
        await HTTP1Channel(responder: responder, configuration: configuration).handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// `.http1(configuration:)` behind a `ConnectionGuard`, with each connection's send buffer fixed.
    public static func guardedHTTP1(
        configuration: HTTP1Channel.Configuration, headTimeout: TimeAmount, idleTimeout: TimeAmount, sendBufferBytes: Int
    ) -> HTTPServerBuilder {
        .init { responder in
            GuardedHTTP1Channel(
                responder: responder, configuration: configuration, headTimeout: headTimeout, idleTimeout: idleTimeout,
                sendBufferBytes: sendBufferBytes)
        }
    }
}

/// Tells the guard when a request has been read in full and when its answer has been written, and answers the
/// decoder's errors (431, 414, 400) before the connection closes.
final class HTTPPartObserver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let connectionGuard: ConnectionGuard

    init(connectionGuard: ConnectionGuard) { self.connectionGuard = connectionGuard }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { connectionGuard.requestReceived() }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { connectionGuard.responseSent() }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? HTTPParserError {
            connectionGuard.refuse(parserError)
            return
        }
        context.fireErrorCaught(error)
    }
}
