public import Foundation
public import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The local stack (deploy/local/stack) as the test command sets it up.
///
/// `deploy/local/test` exports `USHER_STACK=1` after starting redis-server, PostgreSQL and SeaweedFS; tests that
/// need them are enabled only then, so a bare `swift test` skips them with a reason while the test command runs
/// (and fails) them for real.
public enum LocalStack {
    public static let environment = ProcessInfo.processInfo.environment

    public static var isRunning: Bool { environment["USHER_STACK"] == "1" }

    /// The test command's second pass (`USHER_TEST_REDIS_CLUSTER=1`): the servers the tests start use the Redis Cluster
    /// of `deploy/local/redis-cluster` (`REDIS_CLUSTER_URL`) instead of the stack's single Redis.
    public static var usesRedisCluster: Bool { environment["USHER_TEST_REDIS_CLUSTER"] == "1" && clusterURL != nil }

    /// The seeds of the local Redis Cluster, when the test command started it.
    public static var clusterURL: String? { environment["REDIS_CLUSTER_URL"] }

    /// The first seed's port (`redis://127.0.0.1:7001/0,…` → `7001`), for `redis-cli`.
    public static var clusterSeedPort: String? {
        guard let seed = clusterURL?.split(separator: ",").first, let port = seed.split(separator: ":").last?.split(separator: "/").first
        else { return nil }
        return String(port)
    }

    public static let skipReason: Comment = "needs the local stack and its Python peers: run `bash deploy/local/test`"

    /// The venv's Python, with botocore, PyJWT and cryptography.
    public static var python: String { environment["USHER_PYTHON"] ?? "python3" }

    /// The repository root, found from this file's path.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func script(_ name: String) -> String {
        repositoryRoot.appendingPathComponent("Tests/Support/\(name)").path
    }
}

public struct ProcessFailure: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Runs a program (found on PATH) to completion, feeding `input` to its standard input; returns standard output.
/// Throws with standard error when it exits non-zero.
public func run(_ executable: String, _ arguments: [String], input: Data = Data(), environment: [String: String]? = nil) throws -> Data {
    let outcome = try spawnAndWait(
        "/usr/bin/env", [executable] + arguments, environment: environment ?? ProcessInfo.processInfo.environment, input: input)
    guard outcome.status == 0 else {
        throw ProcessFailure(
            description:
                "\(executable) \(arguments.joined(separator: " ")) exited \(outcome.status): \(String(decoding: outcome.stderr, as: UTF8.self))")
    }
    return outcome.stdout
}

/// Runs one of the Python peers in Tests/Support with the stack's Python, JSON in and JSON out.
public func runPythonPeer<Output: Decodable>(_ script: String, input: some Encodable, as: Output.Type = Output.self) throws -> Output {
    let data = try run(LocalStack.python, [LocalStack.script(script)], input: JSONEncoder().encode(input))
    return try JSONDecoder().decode(Output.self, from: data)
}

/// As `runPythonPeer`, for a long peer (a browser) while a server runs in this process: the wait happens on a
/// thread of its own.
public func runPythonPeerDetached<Output: Decodable>(_ script: String, input: some Encodable, as: Output.Type = Output.self) async throws -> Output {
    let outcome = try await spawnAndWaitDetached(
        "/usr/bin/env", [LocalStack.python, LocalStack.script(script)], environment: LocalStack.environment, input: JSONEncoder().encode(input))
    guard outcome.status == 0 else {
        throw ProcessFailure(description: "\(script) exited \(outcome.status): \(String(decoding: outcome.stderr, as: UTF8.self))")
    }
    return try JSONDecoder().decode(Output.self, from: outcome.stdout)
}

extension LocalStack {
    /// Runs `deploy/local/stack` (e.g. `stop redis`, `start`) for fault-injection tests.
    public static func stack(_ arguments: String...) throws {
        try deployScript("stack", arguments)
    }

    /// Runs `deploy/local/redis-cluster` (`start`, `stop`, `kill PORT`).
    public static func redisCluster(_ arguments: String...) throws {
        try deployScript("redis-cluster", arguments)
    }

    private static func deployScript(_ name: String, _ arguments: [String]) throws {
        let outcome = try spawnAndWait(
            "/bin/bash", [repositoryRoot.appendingPathComponent("deploy/local/\(name)").path] + arguments, environment: environment)
        guard outcome.status == 0 else {
            throw ProcessFailure(
                description:
                    "\(name) \(arguments.joined(separator: " ")) failed (status \(outcome.status)): \(String(decoding: outcome.stdout + outcome.stderr, as: UTF8.self))"
            )
        }
    }
}

extension LocalStack {
    /// Stops one stack service (`redis` or `postgres`) for the duration of `body`, and starts it again even
    /// when `body` throws. On the cluster pass, `redis` is the whole Redis Cluster: stopped, then formed anew.
    public static func whileStopped<T>(_ service: String, _ body: () async throws -> T) async throws -> T {
        let cluster = service == "redis" && usesRedisCluster
        try cluster ? redisCluster("stop") : stack("stop", service)
        let restart = { () throws in try cluster ? redisCluster("start") : stack("start") }
        do {
            let value = try await body()
            try restart()
            return value
        } catch {
            try restart()
            throw error
        }
    }

    /// Polls `condition` every 250 ms until it holds or `seconds` pass; returns whether it held.
    public static func eventually(within seconds: Double = 10, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(250))
        }
        return try await condition()
    }

    /// The stack's single Redis, database 1: the tests' Redis outside the cluster pass.
    public static var singleRedisURL: String { "redis://127.0.0.1:\(environment["REDIS_PORT"] ?? "6379")/1" }

    /// `redis-cli` on the Redis that `usherEnvironment()` names: the stack's database 1, or on the cluster pass the
    /// cluster through its first seed (`-c` follows `MOVED`); returns the trimmed output.
    public static func redisCLI(_ arguments: String...) throws -> String {
        var target = ["-p", environment["REDIS_PORT"] ?? "6379", "-n", "1"]
        if usesRedisCluster, let port = clusterSeedPort { target = ["-c", "-p", port] }
        let output = try run("redis-cli", target + arguments)
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The environment for an `usher` process the tests spawn: the stack's settings on the test database and
    /// Redis database 1 (the Redis Cluster on the cluster pass), errors-only logging, plus `overrides`. A test that
    /// names its own `REDIS_URL` (client-side shards, nodes it starts itself) gets exactly those nodes.
    public static func usherEnvironment(_ overrides: [String: String] = [:]) -> [String: String] {
        var values = environment
        values["DATABASE_URL"] = "postgres://usher@127.0.0.1:\(values["PG_PORT"] ?? "5432")/usher_test"
        values["REDIS_URL"] = singleRedisURL
        if usesRedisCluster, let clusterURL, overrides["REDIS_URL"] == nil {
            values["REDIS_URL"] = clusterURL
            values["REDIS_CLUSTER"] = "1"
        }
        values["LOG_LEVEL"] = "error"
        return values.merging(overrides) { _, new in new }
    }
}
