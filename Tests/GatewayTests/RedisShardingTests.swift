import Foundation
import Logging
import Postgres
import Redis
import ServerTestSupport
import Testing
import UsherServer
import UsherTestSupport

/// Several Redis nodes in `REDIS_URL`: keys spread by jump consistent hashing, checked against an independent
/// Python implementation, and a gateway over two real redis-servers that keeps answering when one dies.
struct RedisShardingTests {
    static let keys = (0..<2000).map { "usher:gen:video-\($0)" }

    @Test func nodeChoiceMatchesAnIndependentImplementation() throws {
        struct Input: Encodable {
            var keys: [String]
            var node_counts: [Int]
        }
        struct Output: Decodable { var nodes: [String: [Int]] }
        let counts = [1, 2, 3, 5, 8]
        let python = try runPythonPeer("jump_hash.py", input: Input(keys: Self.keys, node_counts: counts), as: Output.self)
        for count in counts {
            let ours = Self.keys.map { RedisClient.node(forKey: Array($0.utf8), nodeCount: count) }
            #expect(ours == python.nodes[String(count)], "\(count) nodes")
        }
    }

    @Test func addingANodeMovesOnlyItsShareOfTheKeys() {
        for count in 1...6 {
            var moved = 0
            var perNode = [Int](repeating: 0, count: count + 1)
            for key in Self.keys {
                let before = RedisClient.node(forKey: Array(key.utf8), nodeCount: count)
                let after = RedisClient.node(forKey: Array(key.utf8), nodeCount: count + 1)
                perNode[after] += 1
                if before != after {
                    moved += 1
                    #expect(after == count, "a key may only move to the new node")
                }
            }
            let expected = Double(Self.keys.count) / Double(count + 1)
            #expect(abs(Double(moved) - expected) < expected * 0.2, "\(count) → \(count + 1) nodes moved \(moved) keys")
            #expect(perNode.allSatisfy { abs(Double($0) - expected) < expected * 0.2 }, "uneven spread \(perNode)")
        }
    }

    /// The node is chosen by the key a command names, never by an argument's position (EVAL's second argument is its
    /// script: routing by it sent every rate-limit bucket to one node).
    @Test func commandsNameTheKeyTheyAreRoutedBy() {
        let key = Array("usher:rl:ip:203.0.113.7".utf8)
        let eval = RedisCommand.eval("return 1", keys: [key], arguments: [Array("10".utf8)])
        #expect(eval.routingKey == key)
        #expect(eval.arguments.map { String(decoding: $0, as: UTF8.self) } == ["EVAL", "return 1", "1", "usher:rl:ip:203.0.113.7", "10"])
        let set = RedisCommand.set(key, Array("v".utf8), expireSeconds: 5, onlyIfAbsent: true)
        #expect(set.arguments.map { String(decoding: $0, as: UTF8.self) } == ["SET", "usher:rl:ip:203.0.113.7", "v", "EX", "5", "NX"])
        #expect(set.routingKey == key && RedisCommand.get(key).routingKey == key && RedisCommand.delete(key).routingKey == key)
        #expect(RedisCommand.ping.routingKey == nil)
    }

    @Test func redisURLListsSeveralNodes() throws {
        let nodes = try RedisClient.configurations(url: "redis://a:6379/0, redis://:pw@b:6380/2")
        #expect(nodes.map(\.description) == ["redis://a:6379/0", "redis://b:6380/2"])
        #expect(nodes[1].password == "pw")
        #expect(throws: RedisError.self) { try RedisClient.configurations(url: "redis://a:6379,") }
    }

    @Test(.enabled(if: LocalStack.isRunning, LocalStack.skipReason))
    func aGatewayOverTwoRedisNodesSpreadsItsKeysAndSurvivesOneDying() async throws {
        let ports = [try freeLoopbackPort(), try freeLoopbackPort()]
        var nodes = try ports.map { port in
            try SpawnedProcess(
                "/usr/bin/redis-server", ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], environment: [:])
        }
        defer { for node in nodes { node.kill() } }
        let url = ports.map { "redis://127.0.0.1:\($0)/0" }.joined(separator: ",")
        let server = try await TestServer.start(["REDIS_URL": url, "USHER_LOCAL_CACHE_TTL": "0"])
        #expect(try await LocalStack.eventually { try await TestHTTP.request("\(server.edgeURL)/readyz").status == 200 })

        var ids: [String] = []
        for _ in 0..<40 {
            ids.append(try await server.registerVideo(uniqueID("shard")))
        }
        let token = try server.token(owner: "o")
        for id in ids { #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302) }

        // Each record is on the node the hash names, and only there.
        let group = server.services.group
        let direct = try ports.map { try RedisClient(url: "redis://127.0.0.1:\($0)/0", group: group, logger: .init(label: "probe")) }
        var perNode = [0, 0]
        for id in ids {
            let key = Array("usher:gen:\(id)".utf8)
            let owner = RedisClient.node(forKey: key, nodeCount: 2)
            for (index, client) in direct.enumerated() {
                let reply = try await client.send(.exists(key))
                #expect(reply == .integer(index == owner ? 1 : 0), "\(id) on node \(index)")
            }
            perNode[owner] += 1
        }
        #expect(perNode.allSatisfy { $0 >= 8 }, "both nodes hold keys: \(perNode)")
        for client in direct { await client.shutdown() }

        // One node dies: its keys are read from Postgres, the other node's from Redis; every video still plays.
        nodes[1].kill()
        nodes.removeLast()
        for id in ids { #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302) }
        #expect(try await LocalStack.eventually { try await TestHTTP.request("\(server.edgeURL)/readyz").status == 503 })
        try await server.stop()
    }
}
