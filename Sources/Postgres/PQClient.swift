public import Logging
public import NIOCore
import NIOPosix
import Synchronization

/// A pool of libpq connections whose blocking calls run on a dedicated `NIOThreadPool`, never on an event loop.
///
/// The pool has as many threads as connections, so a call never waits for a connection, only for a thread;
/// broken connections are dropped and replaced on next use, so a database restart heals by itself.
public final class PQClient: Sendable {
    public let configuration: PostgresConfiguration
    private let threadPool: NIOThreadPool
    private let idle: Mutex<[PQConnection]>
    private let logger: Logger

    public init(configuration: PostgresConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.threadPool = NIOThreadPool(numberOfThreads: configuration.poolSize)
        self.idle = Mutex([])
        threadPool.start()
    }

    /// Runs `body` with a connection of its own, on a pool thread.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PQConnection) throws -> T) async throws -> T {
        do {
            return try await threadPool.runIfActive { try self.blockingWithConnection(body) }
        } catch let error as PQError {
            throw error
        } catch is CancellationError {
            // The thread pool answers CancellationError once it is shut down, and for a cancelled caller.
            throw PQError(.shutDown, "database call cancelled or pool shut down")
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            throw PQError(.shutDown, "database pool is shut down")
        }
    }

    /// As `withConnection`, completing on `eventLoop` (for the edge handler, which never awaits).
    public func withConnection<T: Sendable>(
        on eventLoop: any EventLoop, _ body: @escaping @Sendable (PQConnection) throws -> T
    ) -> EventLoopFuture<T> {
        threadPool.runIfActive(eventLoop: eventLoop) { try self.blockingWithConnection(body) }
    }

    /// Runs `body` inside BEGIN … COMMIT (ROLLBACK when it throws).
    public func withTransaction<T: Sendable>(_ body: @escaping @Sendable (PQConnection) throws -> T) async throws -> T {
        try await withConnection { connection in
            try connection.query("BEGIN")
            do {
                let value = try body(connection)
                try connection.query("COMMIT")
                return value
            } catch {
                _ = try? connection.query("ROLLBACK")
                throw error
            }
        }
    }

    public func query(_ sql: String, _ parameters: [String?] = []) async throws -> PQRows {
        try await withConnection { try $0.query(sql, parameters) }
    }

    /// As `query`, the statement prepared once per connection (`PQConnection.query(prepared:_:_:)`).
    public func query(prepared name: String, _ sql: String, _ parameters: [String?]) async throws -> PQRows {
        try await withConnection { try $0.query(prepared: name, sql, parameters) }
    }

    private func blockingWithConnection<T>(_ body: (PQConnection) throws -> T) throws -> T {
        let connection = try checkout()
        do {
            let value = try body(connection)
            checkin(connection)
            return value
        } catch {
            if connection.isHealthy { checkin(connection) }
            throw error
        }
    }

    private func checkout() throws(PQError) -> PQConnection {
        if let connection = idle.withLock({ $0.popLast() }) {
            if connection.isHealthy { return connection }
        }
        return try PQConnection(conninfo: configuration.conninfo)
    }

    private func checkin(_ connection: PQConnection) {
        idle.withLock { $0.append(connection) }
    }

    /// Waits for running calls, then closes every connection.
    public func shutdown() async {
        try? await threadPool.shutdownGracefully()
        idle.withLock { $0.removeAll() }
    }
}
