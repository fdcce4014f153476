import Testing
import UsherCrypto
import ViewerAuth

@Suite struct ViewerKeySetTests {
    static let short = Base64URL.encode(Array("only-thirty-one-bytes-long-key!".utf8))

    @Test(arguments: [
        (#"{"keys":[{"kty":"oct","kid":"weak","k":"\#(short)"}]}"#, "key \"weak\": HS256 key is 31 bytes"),
        (#"{"keys":[{"kty":"RSA","kid":"r1","n":"AQAB","e":"AQAB"}]}"#, "key \"r1\": key type RSA is not supported"),
        (#"{"keys":[{"kty":"OKP","kid":"e1","crv":"X25519","x":"AAAA"}]}"#, "key \"e1\": only crv Ed25519"),
        (#"{"keys":[{"kty":"OKP","kid":"e2","crv":"Ed25519","x":"AAAA"}]}"#, "key \"e2\": \"x\" is not a 32-byte"),
        (#"{"keys":[{"kty":"oct","kid":"k","k":"*"}]}"#, "key \"k\": \"k\" is not base64url"),
        (#"{"keys":[]}"#, "holds no keys"),
        (#"{"kty":"oct"}"#, "\"keys\" array"),
        (
            #"{"keys":[{"kty":"oct","kid":"a","k":"\#(Base64URL.encode(TokenFixtures.hmacSecret))"},{"kty":"oct","kid":"a","k":"\#(Base64URL.encode(TokenFixtures.hmacSecret))"}]}"#,
            "key \"a\" appears twice"
        ),
        ("not json", "not valid JSON"),
    ])
    func badKeyFilesAreRefusedNamingTheKey(jwks: String, message: String) {
        #expect {
            try ViewerKeySet(jwks: Array(jwks.utf8))
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func paddedBase64IsToleratedInKeyFiles() throws {
        let secret = [UInt8](repeating: 7, count: 32)  // 43 base64url characters, so one "=" pads it
        let padded = Base64URL.encode(secret) + "="
        let keySet = try ViewerKeySet(jwks: Array(#"{"keys":[{"kty":"oct","kid":"p","k":"\#(padded)"}]}"#.utf8))
        guard case .hmac(_, let decoded)? = keySet.keys.first?.material else {
            Issue.record("expected one HMAC key")
            return
        }
        #expect(decoded == secret)
    }

    @Test func privatePartMustMatchPublicKey() {
        let x = Base64URL.encode(TokenFixtures.edKey.publicKey.rawRepresentation)
        let d = Base64URL.encode(TokenFixtures.otherEdSeed)
        #expect {
            try ViewerKeySet(jwks: Array(#"{"keys":[{"kty":"OKP","kid":"e","crv":"Ed25519","x":"\#(x)","d":"\#(d)"}]}"#.utf8))
        } throws: { "\($0)".contains("does not match") }
    }
}
