public import Delivery
public import NIOCore
public import Postgres
public import Redis
import Synchronization

/// `/readyz`: every Redis node answers PING, Postgres answers `SELECT 1`, and the revocation list has loaded at
/// least once (an instance that never read it would serve revoked tokens and taken-down videos). The answer is
/// reused for a second, so probes and load balancers cannot turn it into load on either server.
public final class Readiness: Sendable {
    public struct Status: Sendable {
        public var redis: Bool
        public var postgres: Bool
        /// The revocation list has loaded (true when this process serves no viewers).
        public var revocations: Bool = true
        public var ready: Bool { redis && postgres && revocations }

        /// The body both listeners answer.
        public var text: String {
            "redis: \(redis ? "up" : "down")\npostgres: \(postgres ? "up" : "down")\n" + (revocations ? "" : "revocations: not loaded\n")
        }
    }

    private let redis: RedisClient
    private let postgres: PQClient
    private let revocations: Revocations?
    private let cached = Mutex<(status: Status, at: NIODeadline)?>(nil)

    public init(redis: RedisClient, postgres: PQClient, revocations: Revocations? = nil) {
        self.redis = redis
        self.postgres = postgres
        self.revocations = revocations
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
            let status = Status(redis: redis, postgres: postgres, revocations: self.revocations?.hasLoaded ?? true)
            self.cached.withLock { $0 = (status, .now()) }
            return status
        }
    }

    public func check() async -> Status {
        (try? await check(on: redis.anyEventLoop).get()) ?? Status(redis: false, postgres: false)
    }
}
