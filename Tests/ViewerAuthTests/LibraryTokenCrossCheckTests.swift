import Foundation
import Testing
import UsherTestSupport

/// Tokens minted by the JWT libraries apps use, panva's jose (Node) and vapor/jwt-kit (Swift), verify here, and tokens
/// minted here verify in them (cases: `TokenPeerCrossCheck`, shared with the PyJWT check).
///
/// The peers: `node Tests/Support/jose_tokens.mjs` (jose from the app's node_modules or Debian's node-jose), and the
/// jwtkit-mint program of the separate package Tests/Interop (so that Usher never builds swift-crypto), which
/// `Tests/Interop/build` builds and whose path it prints, handed here as `USHER_JWTKIT_MINT`. Under the test command
/// (`USHER_STACK=1`) a missing peer fails its test; elsewhere its test is skipped.
@Suite struct LibraryTokenCrossCheckTests {
    /// A peer program: `executable arguments… < request.json > response.json`, and `--version` to show it runs.
    struct Peer: Sendable {
        let name: String
        let executable: String?
        let arguments: [String]
        /// What to do when the peer cannot run.
        let remedy: String

        /// Why the peer cannot run, or nil when `--version` succeeds.
        var problem: String? {
            guard let executable, !executable.isEmpty else { return remedy }
            do {
                _ = try run(executable, arguments + ["--version"])
                return nil
            } catch {
                return "\(remedy)\n\(error)"
            }
        }

        func exchange(_ request: TokenPeerCrossCheck.Request) throws -> TokenPeerCrossCheck.Response {
            let output = try run(executable ?? name, arguments, input: JSONEncoder().encode(request))
            return try JSONDecoder().decode(TokenPeerCrossCheck.Response.self, from: output)
        }
    }

    static let jose = Peer(
        name: "jose", executable: LocalStack.environment["USHER_NODE"] ?? "node", arguments: [LocalStack.script("jose_tokens.mjs")],
        remedy: "jose for Node cannot run: install Node and jose (`apt-get install nodejs node-jose`; Tests/Interop/build does)")
    static let jwtKit = Peer(
        name: "jwt-kit", executable: LocalStack.environment["USHER_JWTKIT_MINT"], arguments: [],
        remedy: "USHER_JWTKIT_MINT must name the jwtkit-mint program: run Tests/Interop/build and set it to the path it prints")

    // Evaluated once: each spawns the peer with --version.
    static let joseProblem = jose.problem
    static let jwtKitProblem = jwtKit.problem

    static func crossCheck(_ peer: Peer, problem: String?) throws {
        if let problem {
            Issue.record("\(peer.name) is missing and USHER_STACK=1 requires it: \(problem)")
            return
        }
        try TokenPeerCrossCheck.check(peer.name, exchange: peer.exchange)
    }

    @Test(.enabled(if: LocalStack.isRunning || joseProblem == nil, "jose for Node is missing (apt-get install node-jose) and USHER_STACK is unset"))
    func tokensInteroperateWithJose() throws {
        try Self.crossCheck(Self.jose, problem: Self.joseProblem)
    }

    @Test(
        .enabled(
            if: LocalStack.isRunning || jwtKitProblem == nil,
            "USHER_JWTKIT_MINT names no working jwtkit-mint (Tests/Interop/build) and USHER_STACK is unset"))
    func tokensInteroperateWithJWTKit() throws {
        try Self.crossCheck(Self.jwtKit, problem: Self.jwtKitProblem)
    }
}
