import ArgumentParser
import Foundation
import UsherCrypto
import UsherServer
import ViewerAuth

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Viewer tokens.", subcommands: [Mint.self])

    struct Mint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a viewer token signed with a key of USHER_TOKEN_KEYS (the key needs its private part).")

        @Option(help: "Key id in the JWKS file.") var kid: String
        @Option(help: "A generation id the token opens (repeatable).") var vid: [String] = []
        @Option(help: "An owner whose generations the token opens.") var own: String?
        @Option(help: "Viewer id (sub).") var sub: String?
        @Option(help: "Token id (jti), for revocation.") var jti: String?
        @Option(help: "Lifetime in seconds.") var ttl: Int = 3600
        @Option(help: "JWKS file; default USHER_TOKEN_KEYS.") var keys: String?
        @Option(help: "Audience; default USHER_TOKEN_AUDIENCE or usher.") var audience: String?

        func validate() throws {
            guard !vid.isEmpty || own != nil else { throw ValidationError("give at least one --vid or --own") }
            guard ttl > 0 else { throw ValidationError("--ttl must be a positive number of seconds") }
        }

        func run() throws {
            let configuration = try CommandSetup.configuration()
            guard let path = keys ?? configuration.tokenKeysPath else { throw ValidationError("USHER_TOKEN_KEYS is not set (or give --keys)") }
            let keySet = try loadViewerKeySet(path: path)
            guard let key = keySet.keys.first(where: { $0.id == kid }) else {
                throw ValidationError("no key with kid \"\(kid)\" in the key file")
            }
            let now = Int64(Date().timeIntervalSince1970)
            var claims = ViewerTokenMinter.Claims(issuedAt: now, expiresAt: now + Int64(ttl))
            claims.videoIDs = vid
            claims.owner = own
            claims.subject = sub
            claims.tokenID = jti
            claims.audience = audience ?? configuration.tokenAudience
            print(try ViewerTokenMinter(key: key).mint(claims))
        }
    }
}
