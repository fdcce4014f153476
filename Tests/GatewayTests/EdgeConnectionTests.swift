import Foundation
import Logging
import NIOPosix
import Postgres
import Redis
import ServerTestSupport
import Testing
import UsherServer
import UsherTestSupport

/// HTTP/1.1 connection handling of the edge, which writes its responses itself (EdgeHandler, EdgeReply): pipelining,
/// keep-alive and close, HEAD, refusals behind pending answers, and graceful shutdown.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct EdgeConnectionTests {
    static func port(_ server: TestServer) -> Int { Int(server.edgeURL.split(separator: ":").last!)! }

    /// Status codes of the responses in `data`, in order, and how many said `Connection: close`.
    static func statuses(_ data: Data) -> (codes: [Int], closes: Int) {
        let text = String(decoding: data, as: UTF8.self)
        var codes: [Int] = []
        var rest = text[...]
        while let range = rest.range(of: "HTTP/1.") {
            let line = rest[range.upperBound...].prefix(6)  // "1 302 "
            if let code = Int(line.dropFirst(2).prefix(3)) { codes.append(code) }
            rest = rest[range.upperBound...]
        }
        return (codes, text.components(separatedBy: "\r\nConnection: close\r\n").count - 1)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderEvenWhenSomeWaitForRedis() async throws {
        let server = try await TestServer.start()
        let connection = try RawConnection(port: Self.port(server))
        // /readyz and an unknown id both wait for Redis (a future); /healthz answers at once.
        connection.send(
            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /v/\(uniqueID()) HTTP/1.1\r\nHost: x\r\n\r\n" + "HEAD /v/\(uniqueID()) HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n" + "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let received = connection.readUntilClosed(within: 5)
        #expect(received.closed, "Connection: close is honoured")
        let (codes, closes) = Self.statuses(received.data)
        #expect(codes == [200, 200, 404, 404, 404, 200], "answers in request order; nothing after the close: \(codes)")
        #expect(closes == 1)
        // The HEAD answer has the GET's Content-Length and no body, so the next response still parses.
        let text = String(decoding: received.data, as: UTF8.self)
        #expect(text.contains("Content-Length: 114\r\nDate: ") && text.contains("\r\n\r\nHTTP/1.1 404 Not Found\r\n"))
        try await server.stop()
    }

    @Test func manyPipelinedRequestsAreAllAnswered() async throws {
        let server = try await TestServer.start()
        let connection = try RawConnection(port: Self.port(server))
        // More than the 16 that may queue behind a waiting answer: reading pauses and resumes.
        let count = 200
        connection.send(
            String(repeating: "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", count: count)
                + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let received = connection.readUntilClosed(within: 10)
        #expect(received.closed)
        let (codes, closes) = Self.statuses(received.data)
        #expect(codes.count == count + 1 && codes.allSatisfy { $0 == 200 }, "\(codes.count) answers")
        #expect(closes == 1)
        try await server.stop()
    }

    @Test func anUnparsableRequestBehindPendingOnesIsRefusedAfterTheirAnswers() async throws {
        let server = try await TestServer.start()
        let connection = try RawConnection(port: Self.port(server))
        connection.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\nGET /v/\(uniqueID()) HTTP/1.1\r\nHost: x\r\n\r\nHELLO THERE\r\n\r\n")
        let received = connection.readUntilClosed(within: 5)
        #expect(received.closed)
        let (codes, closes) = Self.statuses(received.data)
        #expect(codes == [200, 404, 400], "\(codes)")
        #expect(closes == 1, "only the refusal closes")
        try await server.stop()
    }

    @Test func http10ClosesUnlessAskedToKeepAlive() async throws {
        let server = try await TestServer.start()
        let port = Self.port(server)

        let plain = try RawConnection(port: port)
        plain.send("GET /healthz HTTP/1.0\r\n\r\n")
        let once = plain.readUntilClosed(within: 5)
        #expect(once.closed)
        #expect(String(decoding: once.data, as: UTF8.self).hasPrefix("HTTP/1.0 200 OK\r\n"))
        #expect(Self.statuses(once.data).closes == 1)

        let kept = try RawConnection(port: port)
        kept.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let first = try #require(kept.readResponse(within: 5))
        #expect(first.hasPrefix("HTTP/1.0 200 OK\r\n") && first.contains("\r\nConnection: keep-alive\r\n"))
        kept.send("GET /healthz HTTP/1.0\r\n\r\n")
        let second = kept.readUntilClosed(within: 5)
        #expect(second.closed && Self.statuses(second.data).codes == [200])
        try await server.stop()
    }

    @Test func gracefulShutdownClosesIdleConnectionsAndAnswersRequestsAlreadyRead() async throws {
        let server = try await TestServer.start()
        let port = Self.port(server)

        let idle = try RawConnection(port: port)
        idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(idle.readResponse(within: 2)?.hasPrefix("HTTP/1.1 200") == true)

        // A request read in full whose answer waits (Redis paused, the generations table locked for a second): it is
        // answered, with Connection: close, then the connection closes. A head still being sent is not waited for.
        let redis = try RedisClient(
            url: "redis://127.0.0.1:\(LocalStack.environment["REDIS_PORT"] ?? "6379")/1", group: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "test"))
        _ = try await redis.send(.other([Array("CLIENT".utf8), Array("PAUSE".utf8), Array("1500".utf8)], routedBy: nil))
        let postgres = server.services.postgres
        let lock = Task {
            try await postgres.withTransaction { connection in
                try connection.query("LOCK TABLE generations IN ACCESS EXCLUSIVE MODE")
                try connection.query("SELECT pg_sleep(1)")
            }
        }
        // Sent once the lock is held: on the cluster pass (whose Redis the pause above does not reach) the lock alone
        // keeps the answer waiting. A fixed 200 ms sleep here was a race: one CI run's cluster pass had the answer
        // before the shutdown (not reproduced in 8 local runs). So was the service order, in a later one: the
        // revocations service stopped before the edge, and a reload of it waiting on this same lock (recent
        // deletions are read from generations) held the edge's shutdown until the lock was released, when the
        // answer was written first, without `Connection: close`. The edge now stops before the revocations.
        let held = """
            SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE c.relname = 'generations' AND l.mode = 'AccessExclusiveLock' AND l.granted
            """
        let deadline = ContinuousClock.now + .seconds(3)
        while try await postgres.query(held).rows.first?.first != "1", ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try await postgres.query(held).rows.first?.first == "1", "the generations table is locked")
        let midRequest = try RawConnection(port: port)
        midRequest.send("GET /v/\(uniqueID()) HTTP/1.1\r\nHost: x\r\n\r\n")
        let midHead = try RawConnection(port: port)
        midHead.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try await Task.sleep(for: .milliseconds(200))

        await server.beginShutdown()
        let closedIdle = idle.readUntilClosed(within: 3)
        #expect(closedIdle.closed && closedIdle.data.isEmpty, "an idle keep-alive connection is closed without an answer")
        let closedHead = midHead.readUntilClosed(within: 3)
        #expect(closedHead.closed && closedHead.data.isEmpty, "a half-sent head is not waited for")

        let answered = midRequest.readUntilClosed(within: 5)
        #expect(answered.closed)
        let (codes, closes) = Self.statuses(answered.data)
        #expect(codes == [404] && closes == 1, "the request in progress is answered with Connection: close: \(codes)")
        await redis.shutdown()
        try await lock.value
        try await server.task.value
    }
}
