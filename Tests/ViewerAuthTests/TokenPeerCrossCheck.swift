import Foundation
import Testing
import UsherCrypto
import UsherTestSupport
import ViewerAuth

/// Viewer tokens across an independent JWT library (a "peer"): tokens the peer mints verify here (and those that must
/// not, do not), and tokens minted here verify in the peer.
///
/// Every peer is a program speaking the same JSON on standard input and output (Tests/Support/pyjwt_tokens.py,
/// Tests/Support/jose_tokens.mjs, Tests/Interop's jwtkit-mint): `Request` in, `Response` out.
enum TokenPeerCrossCheck {
    typealias F = TokenFixtures

    struct MintSpec: Codable {
        var alg: String
        var kid: String?
        var claims: [String: ClaimValue]
    }

    enum ClaimValue: Codable {
        case int(Int64)
        case double(Double)
        case string(String)
        case strings([String])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .int(let v): try container.encode(v)
            case .double(let v): try container.encode(v)
            case .string(let v): try container.encode(v)
            case .strings(let v): try container.encode(v)
            }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let v = try? container.decode(Int64.self) {
                self = .int(v)
            } else if let v = try? container.decode(Double.self) {
                self = .double(v)
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

    /// Sends the cases to the peer through `exchange` and checks both directions; `peer` names it in messages.
    static func check(_ peer: String, exchange: (Request) throws -> Response) throws {
        let now = Int64(Date().timeIntervalSince1970)
        let mintSpecs: [MintSpec] = [
            MintSpec(alg: "HS256", kid: "hs1", claims: ["exp": .int(now + 600), "vid": .string("req-1"), "sub": .string("viewer")]),
            MintSpec(alg: "HS256", kid: nil, claims: ["exp": .int(now + 600), "own": .string("app"), "aud": .strings(["usher", "other"])]),
            MintSpec(
                alg: "EdDSA", kid: "ed1", claims: ["exp": .int(now + 600), "vid": .strings(["a", "b"]), "nbf": .int(now - 5), "iat": .int(now)]),
            MintSpec(
                alg: "EdDSA", kid: nil, claims: ["exp": .int(now + 600), "own": .string("app"), "jti": .string("tok-1"), "aud": .string("usher")]),
            // Fractional NumericDates, as jwt-kit writes a `Date` (seconds since 1970 as a Double).
            MintSpec(
                alg: "HS256", kid: "hs1", claims: ["exp": .double(Double(now) + 600.25), "iat": .double(Double(now) - 0.5), "vid": .string("frac")]),
        ]
        // Tokens the peer mints that the verifier must refuse, and why.
        let refused: [(spec: MintSpec, rejection: TokenRejection)] = [
            (MintSpec(alg: "EdDSA", kid: "ed1", claims: ["exp": .int(now - 120), "vid": .string("late")]), .expired),
            (MintSpec(alg: "HS256", kid: "hs1", claims: ["exp": .int(now + 600), "nbf": .int(now + 600), "vid": .string("early")]), .notYetValid),
            (
                MintSpec(alg: "HS256", kid: "hs1", claims: ["exp": .int(now + 600), "vid": .string("x"), "aud": .string("someone-else")]),
                .wrongAudience
            ),
            (MintSpec(alg: "EdDSA", kid: "ed1", claims: ["exp": .int(now + 600), "sub": .string("no-scope")]), .noScope),
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
        let response = try exchange(
            Request(
                hs_secret: Base64URL.encode(F.hmacSecret), ed_seed: Base64URL.encode(F.edSeed), mint: mintSpecs + refused.map(\.spec),
                verify: ours))

        try #require(response.minted.count == mintSpecs.count + refused.count, "\(peer) minted \(response.minted.count) tokens")
        let accepted = response.minted.prefix(mintSpecs.count)
        let grants = try accepted.map { token in
            let verified = F.verifier.verify(token, now: now)
            if case .failure(let rejection) = verified { Issue.record("Usher refused a token minted by \(peer) (\(rejection)): \(token)") }
            return try verified.get()
        }
        #expect(grants.map(\.videoIDs) == [["req-1"], [], ["a", "b"], [], ["frac"]])
        #expect(grants.map(\.owner) == [nil, "app", nil, "app", nil])
        #expect(grants[0].subject == "viewer")
        #expect(grants[3].tokenID == "tok-1")
        #expect(grants[4].expiresAt == now + 600)

        for (token, expected) in zip(response.minted.dropFirst(mintSpecs.count), refused) {
            #expect(F.verifier.verify(token, now: now) == .failure(expected.rejection), "\(peer) token \(expected.spec.claims)")
        }

        // A token of the peer's altered by one character no longer verifies here.
        var tampered = Array(response.minted[2].utf8)
        tampered[tampered.count / 2] = tampered[tampered.count / 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(throws: (any Error).self) { try F.verifier.verify(String(decoding: tampered, as: UTF8.self), now: now).get() }

        #expect(response.verified.count == ours.count)
        for claims in response.verified {
            #expect(claims["error"] == nil, "\(peer) refused a token minted by Usher: \(claims)")
            guard case .string(let sub)? = claims["sub"] else {
                Issue.record("sub missing in \(claims)")
                continue
            }
            #expect(sub == "s\u{e9}")
        }
    }
}
