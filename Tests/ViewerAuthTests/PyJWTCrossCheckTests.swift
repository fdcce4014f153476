import Foundation
import Testing
import UsherCrypto
import UsherTestSupport
import ViewerAuth

/// Tokens minted by PyJWT verify here, and tokens minted here verify in PyJWT.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason))
struct PyJWTCrossCheckTests {
    typealias F = TokenFixtures

    struct MintSpec: Codable {
        var alg: String
        var kid: String?
        var claims: [String: ClaimValue]
    }

    enum ClaimValue: Codable {
        case int(Int64)
        case string(String)
        case strings([String])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .int(let v): try container.encode(v)
            case .string(let v): try container.encode(v)
            case .strings(let v): try container.encode(v)
            }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let v = try? container.decode(Int64.self) {
                self = .int(v)
            } else if let v = try? container.decode(String.self) {
                self = .string(v)
            } else {
                self = .strings(try container.decode([String].self))
            }
        }
    }

    struct VerifySpec: Codable {
        var alg: String
        var token: String
        var audience: String
    }

    struct Request: Codable {
        var hs_secret: String
        var ed_seed: String
        var mint: [MintSpec]
        var verify: [VerifySpec]
    }

    struct Response: Codable {
        var minted: [String]
        var verified: [[String: ClaimValue]]
    }

    @Test func tokensInteroperateWithPyJWT() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let mintSpecs: [MintSpec] = [
            MintSpec(alg: "HS256", kid: "hs1", claims: ["exp": .int(now + 600), "vid": .string("req-1"), "sub": .string("viewer")]),
            MintSpec(alg: "HS256", kid: nil, claims: ["exp": .int(now + 600), "own": .string("app"), "aud": .strings(["usher", "other"])]),
            MintSpec(
                alg: "EdDSA", kid: "ed1", claims: ["exp": .int(now + 600), "vid": .strings(["a", "b"]), "nbf": .int(now - 5), "iat": .int(now)]),
            MintSpec(
                alg: "EdDSA", kid: nil, claims: ["exp": .int(now + 600), "own": .string("app"), "jti": .string("tok-1"), "aud": .string("usher")]),
        ]
        var ours: [VerifySpec] = []
        for kid in ["hs1", "ed1"] {
            let key = try #require(F.keySet.keys.first { $0.id == kid })
            var claims = ViewerTokenMinter.Claims(issuedAt: now, expiresAt: now + 600)
            claims.videoIDs = ["x"]
            claims.owner = "o"
            claims.subject = "s\u{e9}"
            ours.append(VerifySpec(alg: key.algorithm.rawValue, token: try ViewerTokenMinter(key: key).mint(claims), audience: "usher"))
        }
        let response = try runPythonPeer(
            "pyjwt_tokens.py",
            input: Request(hs_secret: Base64URL.encode(F.hmacSecret), ed_seed: Base64URL.encode(F.edSeed), mint: mintSpecs, verify: ours),
            as: Response.self)

        #expect(response.minted.count == mintSpecs.count)
        let grants = try response.minted.map { try F.verifier.verify($0, now: now).get() }
        #expect(grants.map(\.videoIDs) == [["req-1"], [], ["a", "b"], []])
        #expect(grants.map(\.owner) == [nil, "app", nil, "app"])
        #expect(grants[0].subject == "viewer")
        #expect(grants[3].tokenID == "tok-1")

        // A PyJWT token altered by one character no longer verifies here.
        var tampered = Array(response.minted[2].utf8)
        tampered[tampered.count / 2] = tampered[tampered.count / 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(throws: (any Error).self) { try F.verifier.verify(String(decoding: tampered, as: UTF8.self), now: now).get() }

        #expect(response.verified.count == ours.count)
        for claims in response.verified {
            #expect(claims["error"] == nil, "PyJWT refused a token minted by Usher: \(claims)")
            guard case .string(let sub)? = claims["sub"] else {
                Issue.record("sub missing in \(claims)")
                continue
            }
            #expect(sub == "s\u{e9}")
        }
    }
}
