import Testing
import UsherTestSupport

/// Tokens minted by PyJWT verify here, and tokens minted here verify in PyJWT (cases: `TokenPeerCrossCheck`).
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason))
struct PyJWTCrossCheckTests {
    @Test func tokensInteroperateWithPyJWT() throws {
        try TokenPeerCrossCheck.check("PyJWT") { request in
            try runPythonPeer("pyjwt_tokens.py", input: request, as: TokenPeerCrossCheck.Response.self)
        }
    }
}
