import Testing
import UsherCrypto
import ViewerAuth

@Suite struct ViewerTokenVerifierTests {
    typealias F = TokenFixtures

    @Test func hs256TokenVerifies() throws {
        let token = F.hs256(header: F.hsHeader, claims: F.claims(extra: #","vid":["v1","v2"],"own":"app-7","jti":"t-1","aud":"usher""#))
        let grant = try F.verifier.verify(token, now: F.now).get()
        #expect(grant == ViewerGrant(subject: "viewer-1", tokenID: "t-1", videoIDs: ["v1", "v2"], owner: "app-7", expiresAt: F.now + 3600))
        #expect(grant.covers(videoID: "v2", owner: nil))
        #expect(grant.covers(videoID: "other", owner: "app-7"))
        #expect(!grant.covers(videoID: "other", owner: "app-8"))
        #expect(!grant.covers(videoID: "other", owner: nil))
    }

    @Test func edDSATokenVerifies() throws {
        let token = F.edDSA(header: F.edHeader, claims: F.claims(extra: #","own":"app-7","aud":["x","usher"]"#))
        let grant = try F.verifier.verify(token, now: F.now).get()
        #expect(grant.owner == "app-7")
        #expect(grant.videoIDs.isEmpty)
    }

    @Test func tokenWithoutKidUsesTheOnlyKeyOfItsAlgorithm() throws {
        let token = F.hs256(header: #"{"alg":"HS256"}"#, claims: F.claims())
        #expect(try F.verifier.verify(token, now: F.now).get().videoIDs == ["v1"])
    }

    @Test func leewayAcceptsARecentlyExpiredToken() throws {
        let token = F.hs256(header: F.hsHeader, claims: F.claims(exp: F.now - 20))
        #expect(throws: Never.self) { try F.verifier.verify(token, now: F.now).get() }
    }

    @Test func absurdExpiryDoesNotCrash() throws {
        for exp in ["1e19", "1.7976931348623157e308", "9223372036854775807"] {
            let token = F.hs256(header: F.hsHeader, claims: #"{"exp":\#(exp),"vid":"v1"}"#)
            #expect(try F.verifier.verify(token, now: F.now).get().expiresAt > F.now, "\(exp)")
        }
    }

    @Test func mintedTokensVerify() throws {
        for kid in ["hs1", "ed1"] {
            let key = try #require(F.keySet.keys.first { $0.id == kid })
            var claims = ViewerTokenMinter.Claims(issuedAt: F.now, expiresAt: F.now + 60)
            claims.videoIDs = ["a", "b"]
            claims.subject = "s"
            claims.tokenID = "j"
            let token = try ViewerTokenMinter(key: key).mint(claims)
            let grant = try F.verifier.verify(token, now: F.now).get()
            #expect(grant == ViewerGrant(subject: "s", tokenID: "j", videoIDs: ["a", "b"], owner: nil, expiresAt: F.now + 60))
        }
    }

    @Test func mintingWithoutScopeIsRefused() throws {
        let key = try #require(F.keySet.keys.first)
        #expect(throws: ViewerTokenMinter.MintError.self) {
            try ViewerTokenMinter(key: key).mint(.init(issuedAt: F.now, expiresAt: F.now + 60))
        }
    }

    struct Forgery: CustomTestStringConvertible, Sendable {
        let name: String
        let token: String
        let expected: TokenRejection
        var testDescription: String { name }
    }

    static let forgeries: [Forgery] = {
        let validHS = F.hs256(header: F.hsHeader, claims: F.claims())
        let parts = validHS.split(separator: ".").map(String.init)
        let otherEd = try! Ed25519PrivateKey(seed: F.otherEdSeed)
        let edPublic = F.edKey.publicKey.rawRepresentation
        return [
            Forgery(
                name: "alg none, no signature", token: Base64URL.encode(#"{"alg":"none"}"#) + "." + parts[1] + ".", expected: .unsupportedAlgorithm),
            Forgery(
                name: "alg none with kid", token: F.hs256(header: #"{"alg":"none","kid":"hs1"}"#, claims: F.claims()), expected: .unsupportedAlgorithm
            ),
            Forgery(name: "alg HS512", token: F.hs256(header: #"{"alg":"HS512","kid":"hs1"}"#, claims: F.claims()), expected: .unsupportedAlgorithm),
            Forgery(name: "alg RS256", token: F.hs256(header: #"{"alg":"RS256","kid":"hs1"}"#, claims: F.claims()), expected: .unsupportedAlgorithm),
            Forgery(name: "alg missing", token: F.hs256(header: #"{"kid":"hs1"}"#, claims: F.claims()), expected: .unsupportedAlgorithm),
            Forgery(
                name: "HS256 signed with the Ed25519 public key, under its kid",
                token: F.hs256(header: #"{"alg":"HS256","kid":"ed1"}"#, claims: F.claims(), secret: edPublic), expected: .algorithmMismatch),
            Forgery(
                name: "HS256 signed with the Ed25519 public key, no kid",
                token: F.hs256(header: #"{"alg":"HS256"}"#, claims: F.claims(), secret: edPublic), expected: .badSignature),
            Forgery(
                name: "EdDSA under the HMAC key's kid",
                token: F.edDSA(header: #"{"alg":"EdDSA","kid":"hs1"}"#, claims: F.claims()), expected: .algorithmMismatch),
            Forgery(
                name: "EdDSA signed by another key", token: F.edDSA(header: F.edHeader, claims: F.claims(), key: otherEd), expected: .badSignature),
            Forgery(name: "unknown kid", token: F.hs256(header: #"{"alg":"HS256","kid":"nope"}"#, claims: F.claims()), expected: .unknownKey),
            Forgery(name: "expired beyond leeway", token: F.hs256(header: F.hsHeader, claims: F.claims(exp: F.now - 31)), expected: .expired),
            Forgery(
                name: "nbf in the future", token: F.hs256(header: F.hsHeader, claims: F.claims(extra: #","vid":"v1","nbf":\#(F.now + 100)"#)),
                expected: .notYetValid),
            Forgery(
                name: "iat in the future", token: F.hs256(header: F.hsHeader, claims: F.claims(extra: #","vid":"v1","iat":\#(F.now + 100)"#)),
                expected: .notYetValid),
            Forgery(name: "bad base64 in header", token: "eyJ*bGciOiJIUzI1NiJ9." + parts[1] + "." + parts[2], expected: .malformed),
            Forgery(name: "bad base64 in signature", token: parts[0] + "." + parts[1] + "." + parts[2].dropLast(2) + "!!", expected: .malformed),
            Forgery(name: "padded signature", token: validHS + "=", expected: .malformed),
            Forgery(
                name: "over 4 KiB", token: F.hs256(header: F.hsHeader, claims: F.claims(extra: #","vid":"\#(String(repeating: "x", count: 4000))""#)),
                expected: .tooLong),
            Forgery(
                name: "wrong aud", token: F.hs256(header: F.hsHeader, claims: F.claims(extra: #","vid":"v1","aud":"other""#)),
                expected: .wrongAudience),
            Forgery(
                name: "aud array without usher", token: F.hs256(header: F.hsHeader, claims: F.claims(extra: #","vid":"v1","aud":["a","b"]"#)),
                expected: .wrongAudience),
            Forgery(name: "no scope", token: F.hs256(header: F.hsHeader, claims: F.claims(extra: "")), expected: .noScope),
            Forgery(name: "empty vid array", token: F.hs256(header: F.hsHeader, claims: F.claims(extra: #","vid":[]"#)), expected: .noScope),
            Forgery(
                name: "duplicate exp claim", token: F.hs256(header: F.hsHeader, claims: #"{"exp":1,"vid":"v1","exp":\#(F.now + 60)}"#),
                expected: .duplicateMember),
            Forgery(
                name: "duplicate exp spelled with an escape",
                token: F.hs256(header: F.hsHeader, claims: #"{"exp":\#(F.now + 60),"vid":"v1","\u0065xp":1}"#), expected: .duplicateMember),
            Forgery(
                name: "duplicate alg in header", token: F.hs256(header: #"{"alg":"none","kid":"hs1","alg":"HS256"}"#, claims: F.claims()),
                expected: .duplicateMember),
            Forgery(
                name: "trailing garbage after the claims JSON", token: F.hs256(header: F.hsHeader, claims: F.claims() + "x"), expected: .malformed),
            Forgery(name: "a fourth segment", token: validHS + ".e30", expected: .malformed),
            Forgery(name: "two segments", token: parts[0] + "." + parts[1], expected: .malformed),
            Forgery(name: "missing exp", token: F.hs256(header: F.hsHeader, claims: #"{"vid":"v1"}"#), expected: .missingExpiry),
            Forgery(
                name: "exp as a string", token: F.hs256(header: F.hsHeader, claims: #"{"vid":"v1","exp":"\#(F.now + 60)"}"#), expected: .invalidClaim),
            Forgery(name: "vid as a number", token: F.hs256(header: F.hsHeader, claims: F.claims(extra: #","vid":42"#)), expected: .invalidClaim),
            Forgery(
                name: "claims altered after signing", token: parts[0] + "." + Base64URL.encode(F.claims(extra: #","vid":"v2""#)) + "." + parts[2],
                expected: .badSignature),
            Forgery(name: "signature truncated", token: parts[0] + "." + parts[1] + "." + parts[2].dropFirst(4), expected: .badSignature),
            Forgery(name: "header is an array", token: F.hs256(header: #"["HS256"]"#, claims: F.claims()), expected: .malformed),
            Forgery(name: "claims are not JSON", token: F.hs256(header: F.hsHeader, claims: "exp=1"), expected: .malformed),
            Forgery(
                name: "critical header extension",
                token: F.hs256(header: #"{"alg":"HS256","kid":"hs1","crit":["b64"],"b64":false}"#, claims: F.claims()),
                expected: .unsupportedAlgorithm),
            Forgery(
                name: "deeply nested claims",
                token: F.hs256(
                    header: F.hsHeader,
                    claims: #"{"exp":\#(F.now + 60),"vid":"v1","x":\#(String(repeating: "[", count: 64))\#(String(repeating: "]", count: 64))}"#),
                expected: .malformed),
            Forgery(
                name: "lone surrogate in sub", token: F.hs256(header: F.hsHeader, claims: #"{"exp":\#(F.now + 60),"vid":"v1","sub":"\ud800"}"#),
                expected: .malformed),
            Forgery(name: "empty token", token: "", expected: .malformed),
        ]
    }()

    @Test(arguments: forgeries)
    func forgeryIsRejected(_ forgery: Forgery) {
        let result = F.verifier.verify(forgery.token, now: F.now)
        #expect(throws: forgery.expected) { try result.get() }
    }

    @Test func ambiguousKeyWithoutKid() throws {
        let second = Base64URL.encode(Array("another-secret-another-secret-123".utf8))
        let keySet = try ViewerKeySet(
            jwks: Array(#"{"keys":[{"kty":"oct","kid":"a","k":"\#(Base64URL.encode(F.hmacSecret))"},{"kty":"oct","kid":"b","k":"\#(second)"}]}"#.utf8)
        )
        let token = F.hs256(header: #"{"alg":"HS256"}"#, claims: F.claims())
        #expect(throws: TokenRejection.ambiguousKey) { try ViewerTokenVerifier(keySet: keySet).verify(token, now: F.now).get() }
    }
}
