import NIOCore

/// What `EdgeHandler` tells the connection guard, as outbound user events.
enum EdgeConnectionEvent {
    /// A request head was parsed: the head timeout no longer applies to it.
    case requestHead
    /// A response was written in full.
    case responseSent
}

/// Time limits of one edge connection, on raw bytes in front of the HTTP decoder (CONTRACT § Shutdown and limits):
///
/// - a request head must be complete within `headTimeout` of the connection opening, or of the first byte of a
///   later request: a client trickling its headers (slowloris) is disconnected, however often it sends a byte;
/// - a keep-alive connection with no request in progress is closed after `idleTimeout`.
///
/// A request whose head was read is never cut by these timers: its answer may wait for Redis or Postgres.
final class EdgeConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let headTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    /// Heads received minus responses sent (pipelined requests count one each).
    private var openRequests = 0
    /// Bytes of a request arrived whose head is not complete yet.
    private var waitingForHead = false
    private var timer: Scheduled<Void>?

    init(headTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
    }

    func channelActive(context: ChannelHandlerContext) {
        waitingForHead = true
        arm(headTimeout, context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !waitingForHead && openRequests == 0 {
            // The first bytes of the next request: its head must now arrive within headTimeout.
            waitingForHead = true
            arm(headTimeout, context: context)
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let event = event as? EdgeConnectionEvent else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch event {
        case .requestHead:
            openRequests += 1
            waitingForHead = false
            cancelTimer()
        case .responseSent:
            openRequests = max(0, openRequests - 1)
            if openRequests == 0 && !waitingForHead { arm(idleTimeout, context: context) }
        }
        promise?.succeed(())
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    private func arm(_ delay: TimeAmount, context: ChannelHandlerContext) {
        cancelTimer()
        // Holds the handler until it fires or is cancelled (at the latest when the channel goes inactive).
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = bound.value
            guard handler.openRequests == 0 else { return }
            context.close(promise: nil)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }
}
