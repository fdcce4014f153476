public import NIOCore
public import Postgres
public import RedisClient
import Synchronization

/// `/readyz`: every Redis node answers PING and Postgres answers `SELECT 1`. The answer is reused for a second, so
/// probes and load balancers cannot turn it into load on either server.
public final class Readiness: Sendable {
    public struct Status: Sendable {
        public var redis: Bool
        public var postgres: Bool
        public var ready: Bool { redis && postgres }
    }

    private let redis: RedisClient
    private let postgres: PostgresClient
    private let cached = Mutex<(status: Status, at: NIODeadline)?>(nil)

    public init(redis: RedisClient, postgres: PostgresClient) {
        self.redis = redis
        self.postgres = postgres
    }

    public func check(on loop: any EventLoop) -> EventLoopFuture<Status> {
        if let (status, at) = cached.withLock({ $0 }), NIODeadline.now() - at < .seconds(1) {
            return loop.makeSucceededFuture(status)
        }
        let redisOK = redis.pingAll(on: loop)
        let postgresOK = postgres.withConnection(on: loop) { connection in
            try connection.query("SELECT 1").rows.count == 1
        }.recover { _ in false }
        return redisOK.and(postgresOK).map { redis, postgres in
            let status = Status(redis: redis, postgres: postgres)
            self.cached.withLock { $0 = (status, .now()) }
            return status
        }
    }

    public func check() async -> Status {
        (try? await check(on: redis.anyEventLoop).get()) ?? Status(redis: false, postgres: false)
    }
}
