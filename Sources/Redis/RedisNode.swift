public import Logging
public import NIOCore

/// One Redis server, with one pipelined connection per event loop (see `RedisLoopConnection`).
///
/// Callers on an event loop of `group` use that loop's connection and get replies on the same thread; other
/// callers are spread over the loops.
final class RedisNode: Sendable {
    let configuration: RedisConfiguration
    private let connections: [ObjectIdentifier: RedisLoopConnection]
    private let ordered: [RedisLoopConnection]
    private let group: any EventLoopGroup

    init(configuration: RedisConfiguration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        var connections: [ObjectIdentifier: RedisLoopConnection] = [:]
        var ordered: [RedisLoopConnection] = []
        for loop in group.makeIterator() {
            let connection = RedisLoopConnection(eventLoop: loop, configuration: configuration, logger: logger)
            connections[ObjectIdentifier(loop)] = connection
            ordered.append(connection)
        }
        self.connections = connections
        self.ordered = ordered
    }

    /// Connects every loop's connection now rather than on first use.
    func connect() {
        for connection in ordered { connection.eventLoop.execute { connection.connect() } }
    }

    private func connection(for loop: (any EventLoop)?) -> RedisLoopConnection {
        if let loop, let connection = connections[ObjectIdentifier(loop)] { return connection }
        return connections[ObjectIdentifier(group.next())]!
    }

    /// Sends a command with binary-safe arguments; the future completes on `loop` when it is one of the group's.
    func send(_ arguments: [[UInt8]], on loop: (any EventLoop)? = nil) -> EventLoopFuture<RESPValue> {
        connection(for: loop).send(arguments)
    }

    /// The same, with the reply going to `target` (on `loop` when it is one of the group's), without a future.
    func send(_ arguments: [[UInt8]], on loop: (any EventLoop)?, to target: RedisReplyTarget) {
        connection(for: loop).send(arguments, to: target)
    }

    /// Closes every connection; later commands fail with `.unavailable`.
    func shutdown() async {
        for connection in ordered { try? await connection.shutdown().get() }
    }
}
