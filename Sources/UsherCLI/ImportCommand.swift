import ArgumentParser
import Delivery
import Foundation
import Gateway
import SigV4
import UsherServer

/// `usher import FILE.jsonl`: registers objects already in the bucket as COMPLETED generations and caches them.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Load existing objects: JSON lines {request_id, owner, visibility, object_key} become COMPLETED generations.")

    @Argument(help: "A JSON Lines file.") var file: String

    struct Line: Decodable {
        var requestID: String
        var owner: String?
        var visibility: String?
        var objectKey: String

        enum CodingKeys: String, CodingKey {
            case requestID = "request_id"
            case owner, visibility
            case objectKey = "object_key"
        }
    }

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let services = try await CommandSetup.clients()
        let generations = services.generations
        let cdnURLs: CDNURLs
        do {
            cdnURLs = try services.cdnURLs()
        } catch {
            await services.close()
            throw error
        }

        var created = 0
        var unchanged = 0
        var failures: [String] = []
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (offset, raw) in lines.enumerated() {
            let number = offset + 1
            if raw.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }) { continue }
            do {
                let line: Line
                do { line = try JSONDecoder().decode(Line.self, from: Data(raw)) } catch {
                    throw ConfigurationError("not a JSON object with request_id and object_key")
                }
                guard RequestID.isValid(line.requestID) else { throw ConfigurationError("invalid request_id") }
                if let owner = line.owner, !Generation.ownerBytes.contains(owner.utf8.count) {
                    throw ConfigurationError("owner must be 1 to 256 bytes (as in POST /v1/generations)")
                }
                guard Generation.isValidObjectKey(line.objectKey) else {
                    throw ConfigurationError("object_key must be \(Generation.objectKeyRule)")
                }
                let visibility = try Self.visibility(line.visibility)
                switch try await generations.register(
                    requestID: line.requestID, owner: line.owner, visibility: visibility, objectKey: line.objectKey,
                    cdnURL: cdnURLs.url(key: line.objectKey))
                {
                case .created:
                    created += 1
                case .unchanged:
                    unchanged += 1
                case .conflict:
                    throw ConfigurationError("conflicts with the stored generation \(line.requestID); skipped")
                }
            } catch let error as any StorageFailure where error.isUnavailable {
                failures.append("line \(number): database unavailable: \(error)")
            } catch {
                failures.append("line \(number): \(error)")
            }
        }
        await services.close()
        print("imported \(created), unchanged \(unchanged), failed \(failures.count)")
        if !failures.isEmpty {
            for failure in failures { FileHandle.standardError.write(Data((failure + "\n").utf8)) }
            throw ExitCode(1)
        }
    }

    static func visibility(_ text: String?) throws -> Generation.Visibility {
        guard let visibility = Generation.Visibility(parsing: text) else { throw ConfigurationError("visibility must be private or public") }
        return visibility
    }
}
