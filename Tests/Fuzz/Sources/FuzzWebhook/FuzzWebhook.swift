import FalWebhook
import UsherCrypto

/// fal webhooks: the payload parser takes any bytes without crashing; under genuine headers only the signed body
/// verifies; headers made from the input verify only when they are the genuine ones.
enum Fixture {
    static let now: Int64 = 1_700_000_000
    static let key = try! Ed25519PrivateKey(seed: (0..<32).map { UInt8($0 &* 3 &+ 1) })
    static let body = Array(#"{"request_id":"r1","status":"OK","payload":{"video":{"url":"https://v3.fal.media/x.mp4"}}}"#.utf8)
    static let signature = Hex.encode(
        try! key.signature(for: FalSignature.signedBytes(requestID: "r1", userID: "u1", timestamp: "1700000000", body: body)))
    static let headers = FalWebhookHeaders(requestID: "r1", userID: "u1", timestamp: "1700000000", signature: signature)
    static let keys = [key.publicKey]
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebhook(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    _ = FalWebhookPayload.parse(input)

    if input != Fixture.body, FalSignature.check(Fixture.headers, body: input, now: Fixture.now, keys: Fixture.keys) == .valid {
        fatalError("a body that was not signed verified")
    }

    // Four header values from the input, split at newlines.
    let parts = input.split(separator: UInt8(ascii: "\n"), maxSplits: 3, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    }
    guard parts.count == 4 else { return 0 }
    let forged = FalWebhookHeaders(requestID: parts[0], userID: parts[1], timestamp: parts[2], signature: parts[3])
    // Valid only for the signed request id, user id and timestamp text, and the signature's own bytes (hex is
    // case-insensitive).
    if FalSignature.check(forged, body: Fixture.body, now: Fixture.now, keys: Fixture.keys) == .valid,
        parts[0...2] != ["r1", "u1", "1700000000"] || Hex.decode(parts[3]) != Hex.decode(Fixture.signature)
    {
        fatalError("forged headers verified: \(parts)")
    }
    return 0
}
