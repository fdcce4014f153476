public import Logging
public import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// The edge listener (`USHER_LISTEN`) as a service: binds, serves until graceful shutdown, then stops
/// accepting, lets every request whose head was read finish, closes idle keep-alive connections, and returns.
public final class EdgeServer: Service, Sendable {
    public let host: String
    public let port: Int
    private let service: EdgeService
    private let group: any EventLoopGroup
    private let logger: Logger
    private let metrics = EdgeMetrics()
    private let date = HTTPDate()
    private let boundPromise: EventLoopPromise<SocketAddress>

    public init(host: String, port: Int, service: EdgeService, group: any EventLoopGroup, logger: Logger) {
        self.host = host
        self.port = port
        self.service = service
        self.group = group
        self.logger = logger
        self.boundPromise = group.next().makePromise()
    }

    /// The address actually bound (useful with port 0 in tests).
    public var localAddress: EventLoopFuture<SocketAddress> { boundPromise.futureResult }

    public func run() async throws {
        let quiesce = ServerQuiescingHelper(group: group)
        let service = self.service
        let metrics = self.metrics
        let date = self.date
        let limits = service.configuration
        let connections = ConnectionCount()
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                // Inherited by accepted connections (set before the handshake, so the window is sized for it).
                .serverChannelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(limits.socketBufferBytes))
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                    }
                }
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(limits.socketBufferBytes))
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelInitializer { channel in
                    guard connections.open(limit: limits.maximumConnections) else {
                        metrics.connectionRefused()
                        return channel.close()
                    }
                    channel.closeFuture.whenComplete { _ in connections.close() }
                    return channel.eventLoop.makeCompletedFuture {
                        try EdgePipeline.install(on: channel, responder: service, limits: limits, metrics: metrics, date: date)
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            boundPromise.fail(error)
            throw error
        }
        if let address = channel.localAddress { boundPromise.succeed(address) }
        logger.info("edge listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])

        // Completes once the listener is closed and every open connection has answered and closed.
        let quiesced = channel.eventLoop.makePromise(of: Void.self)
        try await withGracefulShutdownHandler {
            try await channel.closeFuture.get()
            try? await quiesced.futureResult.get()
        } onGracefulShutdown: {
            quiesce.initiateShutdown(promise: quiesced)
        }
        logger.info("edge stopped")
    }
}

/// Open connections of one listener, for `maximumConnections`.
final class ConnectionCount: Sendable {
    private let count = Atomic<Int>(0)

    /// Counts a new connection; false (and not counted) when `limit` are open already.
    func open(limit: Int) -> Bool {
        if count.wrappingAdd(1, ordering: .relaxed).newValue > limit {
            count.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func close() { count.wrappingSubtract(1, ordering: .relaxed) }
}
