import UsherCrypto
import ViewerAuth

/// Keys and hand-built tokens for the verifier tests.
enum TokenFixtures {
    static let now: Int64 = 1_800_000_000
    static let hmacSecret = Array("usher-test-secret-usher-test-secret!".utf8)  // 36 bytes
    static let edSeed: [UInt8] = (0..<32).map { UInt8($0 &* 7 &+ 3) }
    static let otherEdSeed: [UInt8] = (0..<32).map { UInt8($0 &* 5 &+ 1) }

    static var edKey: Ed25519PrivateKey { try! Ed25519PrivateKey(seed: edSeed) }

    static var jwks: String {
        """
        {"keys":[
          {"kty":"oct","kid":"hs1","alg":"HS256","k":"\(Base64URL.encode(hmacSecret))"},
          {"kty":"OKP","kid":"ed1","crv":"Ed25519","x":"\(Base64URL.encode(edKey.publicKey.rawRepresentation))","d":"\(Base64URL.encode(edSeed))"}
        ]}
        """
    }

    static var keySet: ViewerKeySet { try! ViewerKeySet(jwks: Array(jwks.utf8)) }
    static var verifier: ViewerTokenVerifier { ViewerTokenVerifier(keySet: keySet) }

    /// Signs arbitrary header and claims text, so tests can build tokens no JWT library would.
    static func hs256(header: String, claims: String, secret: [UInt8] = hmacSecret) -> String {
        let input = Base64URL.encode(header) + "." + Base64URL.encode(claims)
        return input + "." + Base64URL.encode(HMACSHA256Key(secret).authenticationCode(for: input).bytes)
    }

    static func edDSA(header: String, claims: String, key: Ed25519PrivateKey = edKey) -> String {
        let input = Base64URL.encode(header) + "." + Base64URL.encode(claims)
        return input + "." + Base64URL.encode(try! key.signature(for: Array(input.utf8)))
    }

    static let hsHeader = #"{"alg":"HS256","typ":"JWT","kid":"hs1"}"#
    static let edHeader = #"{"alg":"EdDSA","typ":"JWT","kid":"ed1"}"#
    static func claims(exp: Int64 = now + 3600, extra: String = #","vid":"v1""#) -> String {
        #"{"sub":"viewer-1","exp":\#(exp)\#(extra)}"#
    }
}
