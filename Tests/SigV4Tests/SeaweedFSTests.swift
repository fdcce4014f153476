import Foundation
import SigV4
import Testing
import UsherCrypto
import UsherTestSupport

/// Presigned and header-signed requests against a real S3 implementation that checks signatures and expiry.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct SeaweedFSTests {
    let configuration: S3Configuration
    let presigner: Presigner
    let signer: RequestSigner
    let body: Data

    init() throws {
        let env = LocalStack.environment
        configuration = try S3Configuration(
            endpoint: S3Endpoint(env["S3_ENDPOINT"] ?? "http://127.0.0.1:8333"), region: env["S3_REGION"] ?? "us-east-1",
            bucket: env["S3_BUCKET"] ?? "usher",
            credentials: S3Credentials(accessKeyID: env["S3_ACCESS_KEY_ID"] ?? "", secretAccessKey: env["S3_SECRET_ACCESS_KEY"] ?? ""))
        presigner = try Presigner(configuration: configuration)
        signer = RequestSigner(configuration: configuration)
        body = Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 7) })
    }

    var now: Int64 { Int64(Date().timeIntervalSince1970) }

    /// Uploads with a header-signed PUT (the mirror's single-part path), which SeaweedFS verifies too.
    func put(_ key: String) async throws {
        let payloadHash = SHA256.hash([UInt8](body)).hexString
        let signed = signer.sign(
            S3Request(method: "PUT", key: key, headers: [("Content-Type", "video/mp4")]), payloadHash: payloadHash, now: now)
        let result = try await TestHTTP.request(signed.url, method: "PUT", headers: signed.headers.filter { $0.name != "host" }, body: body)
        #expect(result.status == 200, "PUT \(key): \(String(decoding: result.body, as: UTF8.self))")
    }

    /// (Dot segments such as `/./` are signed exactly as botocore signs them, see BotocoreCrossCheckTests, but
    /// HTTP clients and browsers remove them from URLs before sending, so no client can fetch such a key.)
    @Test(arguments: ["videos/plain.mp4", "videos/with space+plus=eq&amp?q#h.mp4", "videos/日本 🎬/ü~'()!*.mp4", "videos//double//x.mp4"])
    func presignedGETFetchesTheObject(key: String) async throws {
        try await put(key)
        let url = try presigner.presignedGET(key: key, ttl: 900, now: now).url
        let full = try await TestHTTP.request(url)
        #expect(full.status == 200)
        #expect(full.body.count == body.count)
        #expect(
            SHA256.hash([UInt8](full.body)) == SHA256.hash([UInt8](body)), "body differs: \(String(decoding: full.body.prefix(300), as: UTF8.self))")

        let range = try await TestHTTP.request(url, headers: [("Range", "bytes=100-199")])
        #expect(range.status == 206)
        #expect([UInt8](range.body) == [UInt8](body[100..<200]), "\(String(decoding: range.body.prefix(300), as: UTF8.self))")

        // The method is part of the signature: a URL presigned for GET does not answer HEAD.
        let head = try await TestHTTP.request(url, method: "HEAD")
        #expect(head.status == 403)
    }

    @Test func alteredSignatureOrKeyIsRefused() async throws {
        try await put("videos/tamper.mp4")
        try await put("videos/other.mp4")
        let url = try presigner.presignedGET(key: "videos/tamper.mp4", ttl: 900, now: now).url
        var flipped = Array(url.utf8)
        flipped[flipped.count - 1] = flipped.last == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        #expect(try await TestHTTP.request(String(decoding: flipped, as: UTF8.self)).status == 403)
        let otherKey = url.replacingOccurrences(of: "videos/tamper.mp4", with: "videos/other.mp4")
        #expect(try await TestHTTP.request(otherKey).status == 403)
        let longer = url.replacingOccurrences(of: "X-Amz-Expires=900", with: "X-Amz-Expires=901")
        #expect(try await TestHTTP.request(longer).status == 403)
    }

    @Test func expiredURLIsRefused() async throws {
        try await put("videos/expiring.mp4")
        let expired = try presigner.presignedGET(key: "videos/expiring.mp4", ttl: 60, now: now - 120).url
        #expect(try await TestHTTP.request(expired).status == 403)
        let live = try presigner.presignedGET(key: "videos/expiring.mp4", ttl: 60, now: now - 30).url
        #expect(try await TestHTTP.request(live).status == 200)
    }

    @Test func signingWindowGivesOneCacheableURLThatWorks() async throws {
        try await put("videos/window.mp4")
        let windowed = try Presigner(configuration: configuration, signingWindow: 300)
        let base = now - now % 300
        let first = try windowed.presignedGET(key: "videos/window.mp4", ttl: 900, now: base + 1)
        let second = try windowed.presignedGET(key: "videos/window.mp4", ttl: 900, now: base + 299)
        #expect(first == second)
        #expect(first.expiresAt == base + 1200)
        #expect(try await TestHTTP.request(first.url).status == 200)
    }

    @Test func downloadOverrideReachesTheResponse() async throws {
        try await put("videos/dl.mp4")
        let url = try presigner.presignedGET(
            key: "videos/dl.mp4", ttl: 900, now: now, overrides: .attachment(filename: "clip é.mp4")
        ).url
        let result = try await TestHTTP.request(url)
        #expect(result.status == 200)
        #expect(result.header("Content-Disposition") == #"attachment; filename="clip _.mp4"; filename*=UTF-8''clip%20%C3%A9.mp4"#)
    }
}
