import UsherCrypto
import ViewerAuth

/// Viewer tokens: arbitrary bytes never verify, and a valid token with any bytes spliced in verifies only when the
/// splice changed nothing (no malleable encoding, no accepted forgery). Either would be a crash here.
enum Fixture {
    static let now: Int64 = 1_800_000_000
    static let keySet: ViewerKeySet = {
        let hmac = Base64URL.encode((0..<32).map { UInt8($0 &* 7 &+ 3) })
        let ed = try! Ed25519PrivateKey(seed: (0..<32).map { UInt8($0 &+ 101) })
        let x = Base64URL.encode(ed.publicKey.rawRepresentation)
        let d = Base64URL.encode((0..<32).map { UInt8($0 &+ 101) })
        let jwks = #"{"keys":[{"kty":"oct","kid":"h","k":"\#(hmac)"},{"kty":"OKP","crv":"Ed25519","kid":"e","x":"\#(x)","d":"\#(d)"}]}"#
        return try! ViewerKeySet(jwks: Array(jwks.utf8))
    }()
    static let verifier = ViewerTokenVerifier(keySet: keySet)
    static let valid: [String] = keySet.keys.map { key in
        var claims = ViewerTokenMinter.Claims(issuedAt: now, expiresAt: now + 600)
        claims.videoIDs = ["v1"]
        claims.subject = "s"
        return try! ViewerTokenMinter(key: key).mint(claims)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzToken(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: input, as: UTF8.self)
    if case .success = Fixture.verifier.verify(text, now: Fixture.now), !Fixture.valid.contains(text) {
        fatalError("a token that was never minted verified: \(text)")
    }
    if case .success = Fixture.verifier.verify(UnsafeRawBufferPointer(input), now: Fixture.now), !Fixture.valid.contains(text) {
        fatalError("raw bytes that were never minted verified")
    }
    guard size >= 2 else { return 0 }
    let base = Fixture.valid[Int(input[0]) % Fixture.valid.count]
    var token = Array(base.utf8)
    let position = Int(input[1]) % token.count
    let end = min(token.count, position + size - 2)
    token.replaceSubrange(position..<end, with: input[2...])
    let mutated = String(decoding: token, as: UTF8.self)
    if case .success = Fixture.verifier.verify(mutated, now: Fixture.now), mutated != base {
        fatalError("a changed token still verified: \(mutated) (from \(base))")
    }
    return 0
}
