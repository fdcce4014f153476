import Foundation
import ServerTestSupport
import Testing
import UsherTestSupport

/// What a client sees at the edge's limits (CONTRACT § Shutdown and limits; README § Limits).
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct EdgeLimitTests {
    static func port(_ server: TestServer) -> Int { Int(server.edgeURL.split(separator: ":").last!)! }

    @Test func oversizedHeadsGet431AndURLsOver8KiB414() async throws {
        let server = try await TestServer.start()
        let port = Self.port(server)

        let big = try RawConnection(port: port)
        big.send("GET /v/abc HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 40_000))\r\n\r\n")
        let tooLarge = try #require(big.readResponse(within: 5))
        #expect(tooLarge.hasPrefix("HTTP/1.1 431"), "\(tooLarge.prefix(80))")
        #expect(tooLarge.contains("application/problem+json"))
        #expect(tooLarge.contains(#""status":431"#))
        #expect(big.readUntilClosed(within: 2).closed, "the connection closes after a 431")

        let many = try RawConnection(port: port)
        many.send("GET /healthz HTTP/1.1\r\nHost: x\r\n" + (0..<150).map { "X-H\($0): v\r\n" }.joined() + "\r\n")
        #expect(many.readResponse(within: 5)?.hasPrefix("HTTP/1.1 431") == true)

        let longURL = try RawConnection(port: port)
        longURL.send("GET /v/abc?pad=\(String(repeating: "p", count: 10_000)) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(longURL.readResponse(within: 5)?.hasPrefix("HTTP/1.1 414") == true)

        // Beyond the head limit too, a long URL is a 414 (the decoder's overflow is told apart by the first line),
        // whether it arrives at once or in pieces, on a new connection or after an answer on a kept-alive one.
        let hugeURL = try RawConnection(port: port)
        hugeURL.send("GET /v/abc?pad=\(String(repeating: "p", count: 40_000)) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(hugeURL.readResponse(within: 5)?.hasPrefix("HTTP/1.1 414") == true)
        #expect(hugeURL.readUntilClosed(within: 2).closed)
        let kept = try RawConnection(port: port)
        kept.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(kept.readResponse(within: 5)?.hasPrefix("HTTP/1.1 200") == true)
        kept.send("GET /v/abc?pad=")
        for _ in 0..<5 {
            kept.send(String(repeating: "p", count: 10_000))
            try await Task.sleep(for: .milliseconds(20))
        }
        kept.send(" HTTP/1.1\r\nHost: x\r\n\r\n")
        let keptReply = kept.readResponse(within: 5)
        #expect(keptReply?.hasPrefix("HTTP/1.1 414") == true, "\(keptReply?.prefix(60) ?? "nothing")")

        let garbage = try RawConnection(port: port)
        garbage.send("HELLO THERE\r\n\r\n")
        let bad = try #require(garbage.readResponse(within: 5))
        #expect(bad.hasPrefix("HTTP/1.1 400"))
        #expect(bad.contains(#""status":400"#))
        try await server.stop()
    }

    @Test func aBodyOnTheEdgeIsRefusedWith413() async throws {
        let server = try await TestServer.start()
        let connection = try RawConnection(port: Self.port(server))
        connection.send("POST /v/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "b", count: 20_000))
        let reply = try #require(connection.readResponse(within: 5))
        #expect(reply.hasPrefix("HTTP/1.1 413"), "\(reply.prefix(80))")
        #expect(connection.readUntilClosed(within: 2).closed)
        try await server.stop()
    }

    @Test func aClientTricklingItsHeadIsDisconnectedAfterTheHeaderTimeout() async throws {
        let server = try await TestServer.start(["USHER_HEADER_TIMEOUT": "1s", "USHER_IDLE_TIMEOUT": "30s"])
        let port = Self.port(server)

        // Silent after connecting.
        let silent = try RawConnection(port: port)
        let started = Date()
        #expect(silent.readUntilClosed(within: 5).closed)
        #expect((0.8...3).contains(Date().timeIntervalSince(started)), "closed after \(Date().timeIntervalSince(started)) s")

        // Slowloris: a header line every 200 ms never completes the head; the connection is closed anyway.
        let slow = try RawConnection(port: port)
        let slowStart = Date()
        slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
        var closed = false
        for index in 0..<25 {
            try await Task.sleep(for: .milliseconds(200))
            if !slow.send("X-Slow-\(index): 1\r\n") || slow.readUntilClosed(within: 0.01).closed {
                closed = true
                break
            }
        }
        #expect(closed, "a trickled head must not keep the connection open")
        #expect(Date().timeIntervalSince(slowStart) < 3)

        // A head sent in time is answered, and the keep-alive connection stays usable.
        let prompt = try RawConnection(port: port)
        prompt.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(prompt.readResponse(within: 2)?.hasPrefix("HTTP/1.1 200") == true)
        try await Task.sleep(for: .milliseconds(1500))
        prompt.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(prompt.readResponse(within: 2)?.hasPrefix("HTTP/1.1 200") == true, "idle within USHER_IDLE_TIMEOUT: still open")
        try await server.stop()
    }

    @Test func idleKeepAliveConnectionsAreClosed() async throws {
        let server = try await TestServer.start(["USHER_IDLE_TIMEOUT": "1s"])
        let connection = try RawConnection(port: Self.port(server))
        connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.readResponse(within: 2)?.hasPrefix("HTTP/1.1 200") == true)
        let idleSince = Date()
        #expect(connection.readUntilClosed(within: 5).closed)
        #expect((0.8...3).contains(Date().timeIntervalSince(idleSince)))
        try await server.stop()
    }

    /// The app listener (Hummingbird) takes the same head limits and idle timeout; it answers an oversized head 431.
    @Test func theAppListenerRefusesOversizedHeadsAndClosesIdleConnections() async throws {
        let server = try await TestServer.start(["USHER_IDLE_TIMEOUT": "1s"])
        let port = Int(server.appURL.split(separator: ":").last!)!

        let big = try RawConnection(port: port)
        big.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 40_000))\r\n\r\n")
        let refused = big.readUntilClosed(within: 3)
        #expect(refused.closed)
        #expect(String(decoding: refused.data, as: UTF8.self).hasPrefix("HTTP/1.1 431"), "a 40 KB header is refused, not served")

        let idle = try RawConnection(port: port)
        idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(idle.readResponse(within: 2)?.hasPrefix("HTTP/1.1 200") == true)
        let idleSince = Date()
        #expect(idle.readUntilClosed(within: 5).closed)
        #expect((0.8...3).contains(Date().timeIntervalSince(idleSince)), "closed after USHER_IDLE_TIMEOUT")
        try await server.stop()
    }

    @Test func connectionsBeyondTheLimitAreClosedAtOnce() async throws {
        let server = try await TestServer.start(["USHER_MAX_CONNECTIONS": "2"])
        let port = Self.port(server)
        let first = try RawConnection(port: port)
        let second = try RawConnection(port: port)
        for connection in [first, second] {
            connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(connection.readResponse(within: 2)?.hasPrefix("HTTP/1.1 200") == true)
        }
        let third = try RawConnection(port: port)
        third.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let refused = third.readUntilClosed(within: 2)
        #expect(refused.closed && refused.data.isEmpty, "the third connection is closed without an answer")

        // Closing one makes room again.
        first.disconnect()
        let freed = try await LocalStack.eventually(within: 5) {
            let retry = try RawConnection(port: port)
            retry.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            return retry.readResponse(within: 1)?.hasPrefix("HTTP/1.1 200") == true
        }
        #expect(freed, "a closed connection frees its slot")
        second.disconnect()
        try await server.stop()
    }
}
