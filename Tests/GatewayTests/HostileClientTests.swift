import Foundation
import Logging
import NIOPosix
import Postgres
import Redis
import ServerTestSupport
import Testing
import UsherServer
import UsherTestSupport

/// A client out to hurt: each row of issue #13's table, on both listeners (CONTRACT § Shutdown and limits).
/// Each test here failed on 3cffb9c.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct HostileClientTests {
    static func port(_ url: String) -> Int { Int(url.split(separator: ":").last!)! }

    /// This process's resident memory (the test server runs in it), in MiB.
    static func residentMiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }

    // MARK: time

    /// A GET that declares a body it never sends is refused at once, on as many connections as the client opens;
    /// before, each held its connection (and graceful shutdown) forever.
    @Test func aDeclaredBodyOnTheEdgeIsRefusedAtOnce() async throws {
        let server = try await TestServer.start()
        let port = Self.port(server.edgeURL)
        let connections = try (0..<200).map { _ in try RawConnection(port: port) }
        for connection in connections { connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n") }
        let first = try #require(connections[0].readResponse(within: 2))
        #expect(first.hasPrefix("HTTP/1.1 413"), "\(first.prefix(40))")
        var open = 0
        for connection in connections where !connection.readUntilClosed(within: 2).closed { open += 1 }
        #expect(open == 0, "\(open) of 200 connections still open")
        // Transfer-Encoding is a declared body too.
        let chunked = try RawConnection(port: port)
        chunked.send("GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(chunked.readResponse(within: 2)?.hasPrefix("HTTP/1.1 413") == true)
        #expect(chunked.readUntilClosed(within: 2).closed)
        try await server.stop()
    }

    /// The app listener (where fal's webhook lives) holds a whole request — head and body — to the deadline.
    @Test func theAppListenerCutsHalfSentHeadsAndStalledBodies() async throws {
        let server = try await TestServer.start(["USHER_HEADER_TIMEOUT": "1"])
        let port = Self.port(server.appURL)
        let heads = try (0..<50).map { _ in try RawConnection(port: port) }
        for connection in heads { connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n") }
        let body = try RawConnection(port: port)
        body.send("POST /webhooks/fal HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        let trickle = try RawConnection(port: port)
        let started = Date()
        for byte in "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1234567890\r\n" {
            guard trickle.send(String(byte)) else { break }
            try await Task.sleep(for: .milliseconds(150))
            if Date().timeIntervalSince(started) > 3 { break }
        }
        #expect(Date().timeIntervalSince(started) < 2.5, "a trickled head is cut at the deadline, not kept alive by each byte")
        var open = 0
        for connection in heads where !connection.readUntilClosed(within: 2).closed { open += 1 }
        #expect(open == 0, "\(open) of 50 half-sent heads still open")
        #expect(body.readUntilClosed(within: 1).closed, "a stalled body is cut at the deadline")
        #expect(trickle.readUntilClosed(within: 1).closed)
        // A request that arrives in time is answered, on a connection kept alive past the deadline.
        let good = try RawConnection(port: port)
        good.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(good.readResponse(within: 2)?.hasPrefix("HTTP/1.1 200") == true)
        try await server.stop()
    }

    /// Like the edge, the app listener answers an oversized head 431 and an oversized URL 414, as problem+json.
    @Test func theAppListenerAnswersOversizedHeads431AndURLs414() async throws {
        let server = try await TestServer.start()
        let port = Self.port(server.appURL)
        let big = try RawConnection(port: port)
        big.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 40_000))\r\n\r\n")
        let tooLarge = try #require(big.readResponse(within: 5))
        #expect(tooLarge.hasPrefix("HTTP/1.1 431"), "\(tooLarge.prefix(60))")
        #expect(tooLarge.contains("application/problem+json") && tooLarge.contains(#""status":431"#))
        #expect(big.readUntilClosed(within: 2).closed)
        let long = try RawConnection(port: port)
        long.send("GET /healthz?pad=\(String(repeating: "p", count: 40_000)) HTTP/1.1\r\nHost: x\r\n\r\n")
        let uriTooLong = try #require(long.readResponse(within: 5))
        #expect(uriTooLong.hasPrefix("HTTP/1.1 414"), "\(uriTooLong.prefix(60))")
        try await server.stop()
    }

    // MARK: memory

    /// One client pipelining 24 MB of requests and never reading: the server stops reading it (the client's sends
    /// stall), its memory stays flat, other clients are still served, and after `USHER_HEADER_TIMEOUT` of not
    /// reading (nginx's send_timeout) it is disconnected. Before: RSS 45 → 475 MiB, and the connection stayed.
    @Test(arguments: ["edge", "app"])
    func aClientThatDoesNotReadIsNotReadFurther(listener: String) async throws {
        let server = try await TestServer.start(["USHER_HEADER_TIMEOUT": "3"])
        let url = listener == "edge" ? server.edgeURL : server.appURL
        let before = Self.residentMiB()
        let flood = try RawConnection(port: Self.port(url))
        let total = 24 << 20
        let sent = flood.sendWithoutReading("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", total: total, stall: 2)
        let during = Self.residentMiB()
        #expect(sent < total, "the server kept reading: all \(sent) bytes went out")
        #expect(during - before < 64, "RSS \(before) → \(during) MiB while a client pipelined \(sent) bytes without reading")
        let other = try await TestHTTP.request("\(url)/healthz")
        #expect(other.status == 200, "other clients are still served")
        #expect(flood.peerClosed(within: 5), "a peer that reads none of its answers is disconnected")
        flood.disconnect()
        try await Task.sleep(for: .milliseconds(500))
        let after = Self.residentMiB()
        #expect(after - before < 64, "RSS \(before) → \(after) MiB after the client left")
        try await server.stop()
    }

    // MARK: capabilities

    /// A HEAD of a `max_uses` share hands out a working URL, so it takes a use: a one-time link stays one-time.
    @Test func headOfALimitedShareTakesAUse() async throws {
        let server = try await TestServer.start()
        let id = try await server.registerVideo(uniqueID("hostile-share"), upload: Data("not really a video".utf8))
        let admin = [("Authorization", "Bearer \(TestServer.adminToken)")]
        func share(_ maxUses: String) async throws -> String {
            let reply = try await TestHTTP.request(
                server.appURL + "/v1/shares", method: "POST", headers: admin,
                body: Data(#"{"request_id":"\#(id)","ttl_seconds":600\#(maxUses)}"#.utf8))
            let json = try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
            return try #require(json["code"] as? String)
        }
        let limited = try await share(#","max_uses":2"#)
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(limited)", method: "HEAD").status == 302)
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(limited)", method: "HEAD").status == 302)
        #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(limited)").status == 410, "two HEADs took both uses")
        // An unlimited share counts nothing, HEAD or GET.
        let open = try await share("")
        for _ in 0..<3 { #expect(try await TestHTTP.request("\(server.edgeURL)/s/\(open)", method: "HEAD").status == 302) }
        let uses = try await server.services.postgres.query("SELECT uses FROM shares WHERE code = $1", [open])
        #expect(uses.rows.first?.first == .some("0"))
        try await server.stop()
    }

    /// Shared (Redis) buckets: the client's IP bucket is checked before the token, so forged tokens are limited too,
    /// and the bucket lives under the IP's key, timed by the Redis server's clock.
    @Test func forgedTokensFromOneIPAreLimitedWithSharedBuckets() async throws {
        let server = try await TestServer.start([
            "USHER_RATE_LIMIT_RPS": "2", "USHER_RATE_LIMIT_BURST": "4", "USHER_RATE_LIMIT_REDIS": "1",
            "USHER_TRUSTED_PROXY_HEADER": "X-Forwarded-For",
        ])
        let ip = "198.51.100.\(Int.random(in: 1...250))"
        var statuses: [Int] = []
        for n in 0..<40 {
            let forged = "eyJhbGciOiJFZERTQSIsImtpZCI6InRlc3QifQ.eyJleHAiOjQxMDI0NDQ4MDAsInZpZCI6InYifQ.\(String(repeating: "A", count: 80 + n % 5))"
            statuses.append(
                try await TestHTTP.request("\(server.edgeURL)/v/v?token=\(forged)", headers: [("X-Forwarded-For", ip)]).status)
        }
        #expect(statuses.filter { $0 == 429 }.count >= 34, "\(statuses)")
        #expect(statuses.filter { $0 == 401 }.count <= 6, "\(statuses)")
        let bucket = try await server.services.redis.send(.timeToLive(Array("usher:rl:ip:\(ip)".utf8)))
        guard case .integer(let ttl) = bucket else {
            Issue.record("no bucket under the IP's key: \(bucket)")
            return
        }
        #expect(ttl > 0)
        try await server.stop()
    }

    /// With several `REDIS_URL` nodes, each bucket's script runs on the node that owns the bucket's key (before,
    /// `EVAL` was routed by its script text, so every bucket landed on one node).
    @Test func rateLimitScriptsAreRoutedByTheirKey() async throws {
        let port = LocalStack.environment["REDIS_PORT"] ?? "6379"
        let nodes = "redis://127.0.0.1:\(port)/2,redis://127.0.0.1:\(port)/3"
        let server = try await TestServer.start([
            "REDIS_URL": nodes, "USHER_RATE_LIMIT_RPS": "1", "USHER_RATE_LIMIT_REDIS": "1", "USHER_TRUSTED_PROXY_HEADER": "X-Forwarded-For",
        ])
        let databases = try ["2", "3"].map {
            try RedisClient(url: "redis://127.0.0.1:\(port)/\($0)", group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        }
        var onOwner = 0
        var perNode = [0, 0]
        // Each bucket lives one emission interval (1 s at 1 request/s): look right after its request.
        for ip in (1...24).map({ "203.0.113.\($0)" }) {
            _ = try await TestHTTP.request("\(server.edgeURL)/v/nothing-here", headers: [("X-Forwarded-For", ip)])
            let key = Array("usher:rl:ip:\(ip)".utf8)
            let owner = RedisClient.node(forKey: key, nodeCount: 2)
            perNode[owner] += 1
            if try await databases[owner].send(.exists(key)) == .integer(1) { onOwner += 1 }
        }
        for database in databases { await database.shutdown() }
        let ips = perNode.reduce(0, +)
        #expect(perNode.allSatisfy { $0 > 0 }, "the IPs' keys span both nodes: \(perNode)")
        #expect(onOwner == ips, "\(onOwner) of \(ips) buckets on the node owning their key")
        try await server.stop()
    }
}
