import ArgumentParser
import Delivery
import UsherServer

/// `usher delete REQUEST_ID`: what `DELETE /v1/generations/{id}` does, through the same domain operation.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a video everywhere: its object in the bucket, its shares, its mirror job; /v and /s answer 410.",
        discussion: "Idempotent: deleting again finishes an interrupted deletion. Needs S3_* to remove the object; without them the row is "
            + "marked and the worker's retention sweep removes the object.")

    @Argument(help: "The generation's request id.") var requestID: String

    func validate() throws {
        guard RequestID.isValid(requestID) else { throw ValidationError("REQUEST_ID must be 1 to 128 of A-Za-z0-9._- (not . or ..)") }
    }

    func run() async throws {
        let clients = try await CommandSetup.clients()
        do {
            let found = try await clients.generations.delete(requestID)
            let removesObjects = clients.generations.removesObjects
            await clients.close()
            guard found else { throw ValidationError("no generation \(requestID)") }
            print("deleted \(requestID)" + (removesObjects ? "" : " (S3_* is not set here: the worker's retention sweep removes its object)"))
        } catch let failure as Generations.DeletionFailure {
            await clients.close()
            throw ValidationError("\(requestID) is deleted for viewers, but its object is not removed yet: \(failure.message)")
        } catch let error as ValidationError {
            throw error
        } catch {
            await clients.close()
            throw ValidationError("cannot delete \(requestID): \(error)")
        }
    }
}
