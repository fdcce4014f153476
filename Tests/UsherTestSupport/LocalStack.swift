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

/// Runs a program to completion, feeding `input` to its standard input; returns standard output.
/// Throws with standard error when it exits non-zero.
public func run(_ executable: String, _ arguments: [String], input: Data = Data(), environment: [String: String]? = nil) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    if let environment { process.environment = environment }
    let stdin = Pipe()
    let stdout = Pipe()
    let stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    // Read both pipes while writing, so a chatty child cannot deadlock on a full pipe.
    nonisolated(unsafe) var output = Data()
    nonisolated(unsafe) var errors = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        output = stdout.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    group.enter()
    DispatchQueue.global().async {
        errors = stderr.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    try stdin.fileHandleForWriting.write(contentsOf: input)
    try stdin.fileHandleForWriting.close()
    group.wait()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ProcessFailure(description: "\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
    }
    return output
}

/// Runs one of the Python peers in Tests/Support with the stack's Python, JSON in and JSON out.
public func runPythonPeer<Output: Decodable>(_ script: String, input: some Encodable, as: Output.Type = Output.self) throws -> Output {
    let data = try run(LocalStack.python, [LocalStack.script(script)], input: JSONEncoder().encode(input))
    return try JSONDecoder().decode(Output.self, from: data)
}

extension LocalStack {
    /// Runs `deploy/local/stack` (e.g. `stop redis`, `start`) for fault-injection tests.
    ///
    /// Spawned with posix_spawn and reaped with waitpid: Foundation's `Process` never noticed this child's exit
    /// once the server under test had installed its signal handlers. Output goes to a file, since the daemons the
    /// script starts inherit its descriptors.
    public static func stack(_ arguments: String...) throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("usher-stack-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let argv = ["/bin/bash", repositoryRoot.appendingPathComponent("deploy/local/stack").path] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw ProcessFailure(description: "cannot start the stack script: errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = (status >> 8) & 0xFF
        guard status & 0x7F == 0, exitCode == 0 else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw ProcessFailure(description: "stack \(arguments.joined(separator: " ")) failed (status \(status)): \(output)")
        }
    }
}

/// A child process started with posix_spawn, for tests that must kill a server without warning (SIGKILL).
public final class SpawnedProcess: @unchecked Sendable {
    public let pid: pid_t

    public init(_ path: String, _ arguments: [String], environment: [String: String]) throws {
        let argv = [path] + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        var cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, &cArguments, &cEnvironment)
        guard result == 0 else { throw ProcessFailure(description: "cannot start \(path): errno \(result)") }
        self.pid = pid
    }

    /// SIGKILL, then reap.
    public func kill() {
        _ = Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}

extension LocalStack {
    /// Stops one stack service (`redis` or `postgres`) for the duration of `body`, and starts it again even
    /// when `body` throws.
    public static func whileStopped<T>(_ service: String, _ body: () async throws -> T) async throws -> T {
        try stack("stop", service)
        do {
            let value = try await body()
            try stack("start")
            return value
        } catch {
            try stack("start")
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

    /// The environment for an `usher` process the tests spawn: the stack's settings on the test database and
    /// Redis database 1, errors-only logging, plus `overrides`.
    public static func usherEnvironment(_ overrides: [String: String] = [:]) -> [String: String] {
        var values = environment
        values["DATABASE_URL"] = "postgres://usher@127.0.0.1:\(values["PG_PORT"] ?? "5432")/usher_test"
        values["REDIS_URL"] = "redis://127.0.0.1:\(values["REDIS_PORT"] ?? "6379")/1"
        values["LOG_LEVEL"] = "error"
        return values.merging(overrides) { _, new in new }
    }
}
