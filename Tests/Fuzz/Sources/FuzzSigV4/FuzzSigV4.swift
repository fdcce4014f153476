import SigV4

/// Presigning any key: no crash, and the key appears in the URL encoded exactly as botocore encodes it
/// (`quote(key, safe="/~")`: RFC 3986 unreserved characters and `/` bare, every other UTF-8 byte as %XX).
enum Fixture {
    static let presigner = try! Presigner(
        configuration: S3Configuration(
            endpoint: S3Endpoint("http://127.0.0.1:8333"), region: "us-east-1", bucket: "b",
            credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")))
}

func botocoreQuote(_ key: String) -> String {
    var out = ""
    for byte in key.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = Array("0123456789ABCDEF".utf8)
            out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
        }
    }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSigV4(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let key = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let url = try? Fixture.presigner.presignedGET(key: key, ttl: 900, now: 1_369_353_600).url else { return 0 }
    let expected = "http://127.0.0.1:8333/b/" + botocoreQuote(key) + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
    precondition(url.hasPrefix(expected), "key \(key.debugDescription) encoded as \(url) ≠ \(expected)")
    let signature = url.utf8.suffix(64)
    precondition(
        String(decoding: url.utf8.dropLast(64).suffix(17), as: UTF8.self) == "&X-Amz-Signature="
            && signature.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) },
        "the URL must end with a 64-hex-digit signature: \(url)")
    return 0
}
