public import ArgumentParser
import Delivery
import Gateway
import UsherServer

extension Revocation.Kind: ExpressibleByArgument {}

/// `usher revoke KIND VALUE [--until T]` and `usher unrevoke KIND VALUE`: the admin API's revocations for operators.
struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a token (jti), a viewer (sub) or a video (request_id: a takedown); in force on every gateway within 1 s.")

    @Argument(help: "jti, sub or request_id.") var kind: Revocation.Kind
    @Argument(help: "The token id, viewer id or request id.") var value: String
    @Option(help: "RFC 3339 time the revocation ends (default: never).") var until: String?

    func validate() throws {
        guard Revocation.valueBytes.contains(value.utf8.count) else { throw ValidationError("the value must be 1 to 256 bytes") }
    }

    func run() async throws {
        let tools = try await CommandSetup.clients()
        do {
            let revocation = try await tools.revocations.add(kind, value: value, until: until)
            await tools.close()
            print("revoked \(revocation.kind.rawValue) \(revocation.value)\(revocation.until.map { " until \($0)" } ?? "")")
        } catch let error as any StorageFailure where error.isInvalidInput {
            await tools.close()
            throw ValidationError("--until must be an RFC 3339 time, e.g. 2026-12-31T23:59:59Z")
        } catch {
            await tools.close()
            throw ValidationError("cannot revoke: \(error)")
        }
    }
}

struct UnrevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unrevoke", abstract: "Lift a revocation.")

    @Argument(help: "jti, sub or request_id.") var kind: Revocation.Kind
    @Argument(help: "The token id, viewer id or request id.") var value: String

    func run() async throws {
        let tools = try await CommandSetup.clients()
        let removed: Bool
        do {
            removed = try await tools.revocations.remove(kind, value: value)
        } catch {
            await tools.close()
            throw ValidationError("cannot lift the revocation: \(error)")
        }
        await tools.close()
        guard removed else { throw ValidationError("\(kind.rawValue) \(value) is not revoked") }
        print("lifted \(kind.rawValue) \(value)")
    }
}
