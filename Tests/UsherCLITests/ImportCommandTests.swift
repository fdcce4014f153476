import Foundation
import Testing
import UsherTestSupport

/// `usher import FILE.jsonl` (CONTRACT § Processes) against the stack's test database and Redis database 1.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct ImportCommandTests {
    static let environment = LocalStack.usherEnvironment()

    static func psql(_ sql: String) throws -> String {
        let output = try run("psql", [environment["DATABASE_URL"]!, "-XtAc", sql])
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func importing(_ lines: [String]) throws -> UsherBinary.Outcome {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("import-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return try UsherBinary.run(["import", path], environment: environment)
    }

    @Test func goodLinesAreKeptBadOnesNamedEqualOnesChangeNothingConflictsAreSkipped() throws {
        let a = "imp-\(UUID().uuidString.lowercased())"
        let b = "imp-\(UUID().uuidString.lowercased())"
        let lineA = #"{"request_id":"\#(a)","owner":"studio","visibility":"private","object_key":"videos/\#(a).mp4"}"#
        let lineB = #"{"request_id":"\#(b)","owner":"studio","visibility":"public","object_key":"videos/\#(b).mp4"}"#

        // Bad lines do not stop the good ones; each is named, and the exit status says something failed.
        let longOwner = #"{"request_id":"\#(a)-x","owner":"\#(String(repeating: "o", count: 257))","object_key":"k"}"#
        let folderKey = #"{"request_id":"\#(a)-y","owner":"studio","object_key":"videos/"}"#
        let first = try Self.importing([lineA, "", lineB, "{ not json", #"{"request_id":"../x","object_key":"k"}"#, longOwner, folderKey])
        #expect(first.status != 0)
        #expect(first.stdout.contains("imported 2, unchanged 0, failed 4"), "\(first.stdout)")
        #expect(first.stderr.contains("line 4: ") && first.stderr.contains("line 5: invalid request_id"), "\(first.stderr)")
        #expect(first.stderr.contains("line 6: owner must be 1 to 256 bytes"), "\(first.stderr)")
        #expect(first.stderr.contains("line 7: object_key must be 1 to 1024 bytes"), "\(first.stderr)")
        #expect(try Self.psql("SELECT count(*) FROM generations WHERE request_id IN ('\(a)-x', '\(a)-y')") == "0")
        #expect(
            try Self.psql("SELECT status, owner, visibility, object_key, mirrored_at IS NOT NULL FROM generations WHERE request_id = '\(a)'")
                == "COMPLETED|studio|private|videos/\(a).mp4|t")
        #expect(try Self.psql("SELECT visibility FROM generations WHERE request_id = '\(b)'") == "public")
        #expect(try LocalStack.redisCLI("EXISTS", "usher:gen:\(a)") == "1", "the cache entry is written")
        let stamped = try Self.psql("SELECT updated_at FROM generations WHERE request_id = '\(a)'")

        // The same lines again change nothing; a line that conflicts with a stored row is reported and skipped.
        let conflicting = #"{"request_id":"\#(a)","owner":"studio","visibility":"private","object_key":"videos/other.mp4"}"#
        let second = try Self.importing([lineA, lineB, conflicting])
        #expect(second.status != 0)
        #expect(second.stdout.contains("imported 0, unchanged 2, failed 1"), "\(second.stdout)")
        #expect(second.stderr.contains("line 3: ") && second.stderr.contains("conflicts"), "\(second.stderr)")
        #expect(try Self.psql("SELECT object_key FROM generations WHERE request_id = '\(a)'") == "videos/\(a).mp4", "the stored row is kept")
        #expect(try Self.psql("SELECT updated_at FROM generations WHERE request_id = '\(a)'") == stamped, "an equal line writes nothing")

        // Only good lines: success.
        let third = try Self.importing([lineA, lineB])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stdout.contains("imported 0, unchanged 2, failed 0"))

        let missing = try UsherBinary.run(["import", "/nonexistent/file.jsonl"], environment: Self.environment)
        #expect(missing.status != 0 && missing.stderr.contains("cannot read /nonexistent/file.jsonl"), "\(missing.stderr)")
    }
}
