import ArgumentParser
import Delivery
import Foundation
import Gateway
import UsherServer

/// `usher share create|revoke`: the admin API's share endpoints for operators, against the same database and Redis.
struct ShareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "share", abstract: "Create or revoke share links (/s/{code}).", subcommands: [Create.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a share link for a generation and print its URL (USHER_PUBLIC_URL/s/{code}).")

        @Argument(help: "The generation's request id.") var requestID: String
        @Option(help: "Seconds the link stays valid (1 to 31536000).") var ttl: Int = 86_400
        @Option(name: .customLong("max-uses"), help: "Visits (GET) the link allows; no limit when absent.") var maxUses: Int?

        func validate() throws {
            guard RequestID.isValid(requestID) else { throw ValidationError("'\(requestID)' is not a valid request id") }
            guard (1...ShareLinks.Configuration().maximumTTL).contains(ttl) else { throw ValidationError("--ttl must be from 1 to 31536000 seconds") }
            if let maxUses, !Share.maxUses.contains(maxUses) { throw ValidationError("--max-uses must be from 1 to 1000000000") }
        }

        func run() async throws {
            let tools = try await CommandSetup.clients()
            let created: Share?
            do {
                created = try await tools.shares.create(requestID: requestID, ttlSeconds: ttl, maxUses: maxUses)
            } catch {
                await tools.close()
                throw ValidationError("cannot create the share: \(error)")
            }
            await tools.close()
            guard let share = created else { throw ValidationError("no generation \(requestID)") }
            print("\(tools.configuration.publicURL)/s/\(share.code)")
            FileHandle.standardError.write(Data("code \(share.code), expires \(share.expiresAt)\(share.maxUses.map { ", \($0) uses" } ?? "")\n".utf8))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a share link; it answers 410 from then on.")

        @Argument(help: "The share's code (the last part of its URL).") var code: String

        func validate() throws {
            guard ShareLinks.isValidCode(code) else { throw ValidationError("'\(code)' is not a share code") }
        }

        func run() async throws {
            let tools = try await CommandSetup.clients()
            let revoked: Share?
            do {
                revoked = try await tools.shares.revoke(code: code)
            } catch {
                await tools.close()
                throw ValidationError("cannot revoke the share: \(error)")
            }
            await tools.close()
            guard revoked != nil else { throw ValidationError("no share link with code \(code)") }
            print("revoked \(code)")
        }
    }
}
