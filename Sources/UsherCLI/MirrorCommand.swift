import ArgumentParser
import Delivery
import Foundation
import Gateway
import Mirror
import Postgres
import UsherServer

struct MirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror", abstract: "Mirror one generation now (it needs a fal_url), and print how it ended.")

    @Argument(help: "The generation's request id.") var requestID: String

    func run() async throws {
        guard RequestID.isValid(requestID) else { throw ValidationError("'\(requestID)' is not a valid request id") }
        let tools = try await CommandSetup.clients()
        do {
            // Built first: without the S3 settings nothing is queued.
            let worker = try tools.mirrorWorker(logger: UsherLogging.logger())
            guard try await tools.jobs.enqueue(requestID: requestID) else {
                throw ValidationError("no generation \(requestID) with a fal_url")
            }
            guard let job = try await tools.jobs.claim(requestID: requestID, worker: worker.workerID, leaseSeconds: 300) else {
                throw ValidationError("another worker holds the job of \(requestID); try again after its lease")
            }
            await worker.process(job)
            let generation = try await tools.store.find(requestID)
            print(
                "\(requestID): \(generation?.status.rawValue ?? "missing")\(generation?.lastError.map { " (\($0))" } ?? "")\(generation?.objectKey.map { " → \($0)" } ?? "")"
            )
            await tools.close()
            if generation?.status != .completed { throw ExitCode(1) }
        } catch {
            await tools.close()
            throw error
        }
    }
}

struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill", abstract: "Queue a mirror job for every PENDING or FAILED generation that has a fal_url.")

    func run() async throws {
        let tools = try await CommandSetup.clients()
        do {
            let ids = try await tools.jobs.backfill()
            print("queued \(ids.count) generation\(ids.count == 1 ? "" : "s")")
            await tools.close()
        } catch {
            await tools.close()
            throw error
        }
    }
}
