import ArgumentParser
import Delivery
import Foundation
import Gateway
import SigV4
import UsherServer

struct PresignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presign", abstract: "Print a presigned GET URL for an object key (S3_* settings).")

    @Argument(help: "Object key.") var key: String
    @Option(help: "Lifetime in seconds (1...604800); default PRESIGN_TTL or 900.") var ttl: Int?
    @Option(help: "Signing time (RFC 3339), for reproducible checks; default now.") var now: String?
    @Option(help: "Ask for a download under this file name.") var download: String?

    func run() throws {
        let configuration = try CommandSetup.configuration()
        let ttl = self.ttl ?? configuration.gateway.presignTTL
        let signingTime: Int64
        if let now {
            guard let date = ISO8601DateFormatter().date(from: now) else {
                throw ValidationError("--now must be an RFC 3339 time such as 2013-05-24T00:00:00Z, got '\(now)'")
            }
            signingTime = Int64(date.timeIntervalSince1970)
        } else {
            signingTime = Int64(Date().timeIntervalSince1970)
        }
        let presigner = try Presigner(configuration: configuration.s3, signingWindow: configuration.presignWindow)
        let overrides = download.map { ResponseOverrides.attachment(filename: $0) } ?? .none
        do {
            print(try presigner.presignedGET(key: key, ttl: ttl, now: signingTime, overrides: overrides).url)
        } catch {
            throw ValidationError(error.message)
        }
    }
}
