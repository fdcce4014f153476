public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The `usher` executable built next to the test bundle, run as an operator would.
public enum UsherBinary {
    public static var url: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("usher")
    }

    public struct Outcome: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs `usher` with exactly `environment` (plus PATH), so the caller's S3_* or token settings cannot leak in.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        let full = environment.merging(["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]) { a, _ in a }
        let outcome = try spawnAndWait(url.path, arguments, environment: full)
        return Outcome(
            status: outcome.status, stdout: String(decoding: outcome.stdout, as: UTF8.self), stderr: String(decoding: outcome.stderr, as: UTF8.self))
    }
}
