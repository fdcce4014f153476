import Foundation
import Logging
import NIOCore
import Redis
import ServerTestSupport
import Testing
import UsherServer
import UsherTestSupport

/// The Redis client's command timeout: one timer per connection, armed at the oldest waiting command's deadline.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct RedisClientTests {
    @Test func commandsToAServerThatNeverAnswersFailWithATimeout() async throws {
        let server = try await TestServer.start()
        let silent = try SilentListener()
        var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(silent.port)/0")
        configuration.commandTimeout = .milliseconds(300)
        let client = RedisClient(configuration: configuration, group: server.services.group, logger: .init(label: "silent"))
        let loop = server.services.group.next()

        let started = Date()
        let first = client.send(.get(Array("a".utf8)), on: loop)
        try await Task.sleep(for: .milliseconds(100))
        let second = client.send(.get(Array("b".utf8)), on: loop)
        // The edge's read by callback, waiting on the same connection: its callback gets the timeout too.
        let byCallback = loop.makePromise(of: [UInt8]?.self)
        client.get(Array("c".utf8), on: loop) { byCallback.completeWith($0) }
        for command in [first, second, byCallback.futureResult.map { RESPValue.bulk($0 ?? []) }] {
            await #expect(throws: RedisError.self) { try await command.get() }
            do {
                _ = try await command.get()
            } catch let error as RedisError {
                #expect(error.code == .timeout, "\(error)")
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect((0.25...1.5).contains(elapsed), "failed after \(elapsed) s for a 300 ms timeout")
        await client.shutdown()
        try await server.stop()
    }

    @Test func answeredCommandsNeverTimeOutWhileTheTimerReArms() async throws {
        let server = try await TestServer.start()
        // One node's timer: the stack's single Redis, also on the cluster pass.
        var configuration = try RedisConfiguration(url: LocalStack.singleRedisURL)
        // Long enough that this VM's stalls (one of 50 ms, right after a build, once timed a whole batch out) are
        // not what the test sees; the timer still fires once a round with an answered command at the head.
        configuration.commandTimeout = .milliseconds(150)
        let client = RedisClient(configuration: configuration, group: server.services.group, logger: .init(label: "busy"))
        let loop = server.services.group.next()
        // Commands spread over ~2.5 s, so the timer fires many times with an answered command at the head.
        var failures = 0
        for round in 0..<16 {
            let batch = (0..<20).map { client.send(.other([Array("PING".utf8), Array("r\(round)-\($0)".utf8)], routedBy: nil), on: loop) }
            for command in batch {
                do { _ = try await command.get() } catch { failures += 1 }
            }
            try await Task.sleep(for: .milliseconds(150))
        }
        #expect(failures == 0, "\(failures) of 320 answered commands failed")
        await client.shutdown()
        try await server.stop()
    }

    /// The edge's read by callback answers as the future does: a value, nil for a missing key, and a failure for an
    /// error reply (never "absent").
    @Test func aCacheReadByCallbackAnswersAsTheFutureDoes() async throws {
        let server = try await TestServer.start()
        let client = RedisClient(
            configuration: try RedisConfiguration(url: LocalStack.singleRedisURL), group: server.services.group, logger: .init(label: "read"))
        let cache = RedisCache(client: client)
        let loop = server.services.group.next()
        let prefix = "usher:test:callback:\(UUID().uuidString)"
        let value = Array("\(prefix):value".utf8)
        let list = Array("\(prefix):list".utf8)
        try await cache.set(value, Array("v1".utf8), expireSeconds: 60, onlyIfAbsent: false, on: loop).get()
        _ = try await client.send(.other([Array("RPUSH".utf8), list, Array("x".utf8)], routedBy: list), on: loop).get()

        func read(_ key: [UInt8]) async -> Result<[UInt8]?, any Error> {
            await withCheckedContinuation { continuation in
                cache.get(key, on: loop) { result in
                    #expect(loop.inEventLoop)
                    continuation.resume(returning: result)
                }
            }
        }
        #expect(try await read(value).get() == Array("v1".utf8))
        #expect(try await cache.get(value, on: loop).get() == Array("v1".utf8))
        #expect(try await read(Array("\(prefix):missing".utf8)).get() == nil)
        // WRONGTYPE: an error reply fails both ways.
        await #expect(throws: RedisError.self) { try await read(list).get() }
        await #expect(throws: RedisError.self) { try await cache.get(list, on: loop).get() }

        // A client's first read finds no connection yet: it waits for the connection, then answers the same way.
        let fresh = RedisClient(
            configuration: try RedisConfiguration(url: LocalStack.singleRedisURL), group: server.services.group, logger: .init(label: "fresh"))
        let freshRead = await withCheckedContinuation { continuation in
            RedisCache(client: fresh).get(value, on: loop) { result in
                #expect(loop.inEventLoop)
                continuation.resume(returning: result)
            }
        }
        #expect(try freshRead.get() == Array("v1".utf8))
        await fresh.shutdown()

        _ = try await client.send(.other([Array("DEL".utf8), value, list], routedBy: nil), on: loop).get()
        await client.shutdown()
        // A shut-down client fails the read at once rather than leaving the callback unanswered.
        await #expect(throws: RedisError.self) { try await read(value).get() }
        try await server.stop()
    }
}
