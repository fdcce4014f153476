import Logging
import NIOCore
import NIOPosix

/// The Redis connection of one event loop, so the gateway's handler on that loop gets its reply without a
/// thread hop. Reconnects with backoff after any failure; while it has no connection, commands fail at once
/// with `.unavailable` (callers fall back to Postgres) instead of queueing behind a dead server.
///
/// Sendable because every mutable field is touched only on `eventLoop` (each entry point hops there).
final class RedisLoopConnection: @unchecked Sendable {
    private enum State {
        case idle
        case connecting(EventLoopFuture<any Channel>)
        /// The channel and its handler, which takes commands directly (see `RedisChannelHandler.enqueue`).
        case connected(any Channel, RedisChannelHandler)
        case backingOff
        case shutDown
    }

    let eventLoop: any EventLoop
    private let configuration: RedisConfiguration
    private let logger: Logger
    private var state = State.idle
    private var backoff: Duration
    private var consecutiveFailures = 0
    /// Commands written this event-loop tick go out in one flush (one syscall) at its end, so a burst of
    /// requests arriving together costs one write to Redis, not one each.
    private var flushScheduled = false

    init(eventLoop: any EventLoop, configuration: RedisConfiguration, logger: Logger) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.logger = logger
        self.backoff = configuration.initialBackoff
    }

    /// Sends one command. Call from any thread; the reply future completes on `eventLoop`.
    func send(_ arguments: [[UInt8]]) -> EventLoopFuture<RESPValue> {
        guard eventLoop.inEventLoop else {
            return eventLoop.flatSubmit { self.send(arguments) }
        }
        switch state {
        case .connected(let channel, let handler):
            let promise = eventLoop.makePromise(of: RESPValue.self)
            write(arguments, reply: .promise(promise), channel: channel, handler: handler)
            return promise.futureResult
        case .connecting(let future):
            return future.flatMap { _ in self.send(arguments) }
        case .idle:
            return connect().flatMap { _ in self.send(arguments) }
        case .backingOff:
            return eventLoop.makeFailedFuture(RedisError(.unavailable, "reconnecting to \(configuration)"))
        case .shutDown:
            return eventLoop.makeFailedFuture(RedisError(.unavailable, "client shut down"))
        }
    }

    /// Sends one command, its reply to `target` on `eventLoop`. Called on `eventLoop` with the connection up (the
    /// edge's steady state), it makes no future: the reply goes straight to the target.
    func send(_ arguments: [[UInt8]], to target: RedisReplyTarget) {
        if eventLoop.inEventLoop, case .connected(let channel, let handler) = state {
            write(arguments, reply: target, channel: channel, handler: handler)
            return
        }
        send(arguments).whenComplete { target.complete($0) }
    }

    private func write(_ arguments: [[UInt8]], reply: RedisReplyTarget, channel: any Channel, handler: RedisChannelHandler) {
        // The handler fails the command (and recycles the connection) if no reply comes in time.
        handler.enqueue(arguments, reply: reply)
        if !flushScheduled {
            flushScheduled = true
            eventLoop.execute {
                self.flushScheduled = false
                channel.flush()
            }
        }
    }

    /// Opens the connection (idempotent while connecting or connected).
    @discardableResult
    func connect() -> EventLoopFuture<any Channel> {
        eventLoop.preconditionInEventLoop()
        switch state {
        case .connected(let channel, _): return eventLoop.makeSucceededFuture(channel)
        case .connecting(let future): return future
        case .shutDown: return eventLoop.makeFailedFuture(RedisError(.unavailable, "client shut down"))
        case .idle, .backingOff: break
        }
        let future = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RedisChannelHandler(commandTimeout: TimeAmount(self.configuration.commandTimeout)))
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .flatMap { channel in self.handshake(channel).map { channel } }
        state = .connecting(future)
        future.whenComplete { result in
            switch result {
            case .success(let channel):
                guard case .connecting = self.state else {
                    channel.close(promise: nil)
                    return
                }
                guard let handler = try? channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self) else {
                    channel.close(promise: nil)
                    self.connectionFailed(RedisError(.connectionClosed, "the connection lost its handler"))
                    return
                }
                if self.consecutiveFailures > 0 {
                    self.logger.info("redis reconnected", metadata: ["redis": "\(self.configuration)"])
                }
                self.state = .connected(channel, handler)
                self.consecutiveFailures = 0
                self.backoff = self.configuration.initialBackoff
                channel.closeFuture.whenComplete { _ in self.connectionLost() }
            case .failure(let error):
                self.connectionFailed(error)
            }
        }
        return future
    }

    /// AUTH, SELECT and READONLY, before the connection is handed to callers.
    private func handshake(_ channel: any Channel) -> EventLoopFuture<Void> {
        var steps: [[[UInt8]]] = []
        if let password = configuration.password {
            steps.append([Array("AUTH".utf8)] + (configuration.username.map { [Array($0.utf8)] } ?? []) + [Array(password.utf8)])
        }
        if configuration.database != 0 { steps.append([Array("SELECT".utf8), Array(String(configuration.database).utf8)]) }
        if configuration.readOnly { steps.append([Array("READONLY".utf8)]) }
        var future = eventLoop.makeSucceededVoidFuture()
        for step in steps {
            future = future.flatMap {
                let promise = self.eventLoop.makePromise(of: RESPValue.self)
                // A server that accepts TCP but never answers AUTH must not hold every later command.
                let timeout = self.eventLoop.scheduleTask(in: .init(self.configuration.commandTimeout)) {
                    promise.fail(RedisError(.timeout, "no answer to \(String(decoding: step[0], as: UTF8.self))"))
                }
                promise.futureResult.whenComplete { _ in timeout.cancel() }
                channel.writeAndFlush(PendingCommand(arguments: step, promise: promise), promise: nil)
                return promise.futureResult.flatMapThrowing { reply in
                    if case .error(let message) = reply {
                        // The message of a failed AUTH names no secret.
                        throw RedisError(.server, "\(String(decoding: step[0], as: UTF8.self)) failed: \(message)")
                    }
                }
            }
        }
        return future.flatMapError { error in channel.close().flatMapThrowing { throw error } }
    }

    private func connectionLost() {
        guard case .connected = state else { return }
        logger.warning("redis connection lost", metadata: ["redis": "\(configuration)"])
        scheduleReconnect()
    }

    private func connectionFailed(_ error: any Error) {
        guard case .connecting = state else { return }
        consecutiveFailures += 1
        if consecutiveFailures == 1 || consecutiveFailures % 50 == 0 {
            logger.warning(
                "redis connect failed", metadata: ["redis": "\(configuration)", "error": "\(error)", "attempts": "\(consecutiveFailures)"])
        }
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        state = .backingOff
        let delay = backoff
        backoff = min(backoff * 2, configuration.maximumBackoff)
        eventLoop.scheduleTask(in: TimeAmount(delay)) {
            guard case .backingOff = self.state else { return }
            self.connect()
        }
    }

    func shutdown() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            let previous = self.state
            self.state = .shutDown
            switch previous {
            case .connected(let channel, _): return channel.close().recover { _ in }
            case .connecting(let future): return future.flatMap { $0.close() }.recover { _ in }
            default: return self.eventLoop.makeSucceededVoidFuture()
            }
        }
    }
}
