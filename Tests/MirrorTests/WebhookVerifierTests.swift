import Delivery
import FalWebhook
import Foundation
import Gateway
import HostAddress
import Logging
import Mirror
import Testing
import UsherCrypto
import UsherTestSupport

@Suite struct WebhookVerifierTests {
    static func verifier(jwks: String) throws -> (FalWebhookVerifier, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-\(UUID().uuidString).json").path
        try jwks.write(toFile: path, atomically: true, encoding: .utf8)
        return (FalWebhookVerifier(keys: FalKeyProvider(source: .file(path), httpClient: nil, logger: Logger(label: "test"))), path)
    }

    @Test func acceptsAnyKeyOfTheSetAndRefusesEverythingElse() async throws {
        let first = try Ed25519PrivateKey()
        let second = try Ed25519PrivateKey()
        // One key padded, one not: both spellings of base64url appear in the wild.
        let jwks =
            #"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"\#(Base64URL.encode(first.publicKey.rawRepresentation))="},{"kty":"OKP","crv":"Ed25519","x":"\#(Base64URL.encode(second.publicKey.rawRepresentation))"}]}"#
        let (verifier, path) = try Self.verifier(jwks: jwks)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let body = Array(#"{"request_id":"r1"}"#.utf8)
        let now: Int64 = 1_800_000_000
        func headers(_ key: Ed25519PrivateKey, timestamp: Int64 = now, body: [UInt8] = body) throws -> FalWebhookHeaders {
            let message = FalSignature.signedBytes(requestID: "r1", userID: "u", timestamp: String(timestamp), body: body)
            return FalWebhookHeaders(
                requestID: "r1", userID: "u", timestamp: String(timestamp), signature: Hex.encode(try key.signature(for: message)))
        }
        func accepted(_ headers: FalWebhookHeaders, _ body: [UInt8] = body) async throws -> Bool {
            if case .success = try await verifier.verify(headers, body: body, now: now) { return true }
            return false
        }
        for key in [first, second] { #expect(try await accepted(headers(key))) }
        #expect(try await !accepted(headers(try Ed25519PrivateKey())))
        #expect(try await !accepted(headers(first), body + [0x20]))
        #expect(try await !accepted(headers(first, timestamp: now - 301)))
        #expect(try await accepted(headers(first, timestamp: now - 300)))
        var noUser = try headers(first)
        noUser.userID = nil
        #expect(try await !accepted(noUser))
        var badHex = try headers(first)
        badHex.signature = "zz" + String(badHex.signature!.dropFirst(2))
        #expect(try await !accepted(badHex))
    }

    /// FuzzWebhook's first finding: `now - timestamp` overflowed (a trap, so one header could crash the process).
    @Test(arguments: ["-000000000009223372036854775800", String(Int64.min), String(Int64.max), "-9223372036854775807"])
    func extremeTimestampsAreRejectedWithoutOverflow(timestamp: String) throws {
        let key = try Ed25519PrivateKey()
        let headers = FalWebhookHeaders(requestID: "1", userID: "", timestamp: timestamp, signature: String(repeating: "0", count: 128))
        let outcome = FalSignature.check(headers, body: [], now: 1_700_000_000, keys: [key.publicKey])
        #expect(outcome == .rejected(.unauthorized("timestamp outside ±300 s")))
    }

    @Test func payloadsMapToResults() throws {
        func parse(_ json: String) -> Result<FalWebhookPayload, WebhookRejection> { FalWebhookPayload.parse(Array(json.utf8)) }
        #expect(
            try parse(
                #"{"request_id":"a","status":"OK","payload":{"video":{"url":"https://v3.fal.media/x.mp4","content_type":"video/mp4","file_size":123}}}"#
            ).get()
                == FalWebhookPayload(requestID: "a", result: .video(url: "https://v3.fal.media/x.mp4", contentType: "video/mp4", fileSize: 123)))
        #expect(
            try parse(#"{"request_id":"a","status":"COMPLETED","payload":{"video":{"url":"https://fal.media/y"}}}"#).get().result
                == .video(url: "https://fal.media/y", contentType: nil, fileSize: nil))
        #expect(try parse(#"{"request_id":"a","status":"ERROR","error":"boom"}"#).get().result == .failure("boom"))
        #expect(
            try parse(#"{"request_id":"a","status":"OK","payload":null,"payload_error":"too big"}"#).get().result
                == .failure("payload_error: too big"))
        #expect(try parse(#"{"request_id":"a","status":"OK","payload":{}}"#).get().result == .failure("fal reported OK without payload.video.url"))
        for bad in ["[]", "{", #"{"status":"OK"}"#, #"{"request_id":"a","status":"MAYBE"}"#] {
            #expect(throws: WebhookRejection.self, "\(bad)") { try parse(bad).get() }
        }
    }

    @Test(arguments: [
        ("https://v3.fal.media/files/a.mp4", true), ("https://fal.media/a", true), ("https://evilfal.media/a", false),
        ("http://v3.fal.media/a", false), ("https://127.0.0.1/a", false), ("https://169.254.169.254/latest", false),
        ("file:///etc/passwd", false), ("https://user:pw@v3.fal.media/a", false), ("gopher://fal.media/", false),
        // Hosts that parsers read differently, and internal addresses in IPv6 dress.
        ("https://v3.fal.media%2eevil.com/a", false), ("https://fal.media@evil.com/a", false), ("https://v3.fal.media%00/a", false),
        ("https://v3_x.fal.media/a", false), ("https://[::ffff:127.0.0.1]/a", false), ("https://[::127.0.0.1]/a", false),
        ("https://[0:0:0:0:0:0:0:1]/a", false), ("https://[64:ff9b::a9fe:a9fe]/a", false), ("https://[fe80::1%25lo]/a", false),
        ("https://[64:ff9b::808:808]/a", true), ("https://V3.FAL.MEDIA/a", true),
    ])
    func sourcePolicyInProductionMode(url: String, allowed: Bool) {
        var configuration = MirrorConfiguration()
        configuration.allowedHosts += [
            HostPattern("127.0.0.1")!, HostPattern("169.254.169.254")!, HostPattern("::ffff:127.0.0.1")!, HostPattern("::127.0.0.1")!,
            HostPattern("0:0:0:0:0:0:0:1")!, HostPattern("64:ff9b::a9fe:a9fe")!, HostPattern("64:ff9b::808:808")!, HostPattern("fe80::1%25lo")!,
        ]
        let policy = SourcePolicy(configuration: configuration)
        #expect(((try? policy.check(url)) != nil) == allowed, "\(url)")
    }

    /// Names on the allow-list are resolved before each fetch, and refused when any address is internal (a name
    /// that points at 127.0.0.1 or at the cloud metadata address, the DNS-rebinding case).
    @Test(arguments: [("localhost", "loopback"), ("0x7f.1", "internal"), ("2130706433", "internal"), ("127.1", "internal")])
    func namesThatResolveInsideAreRefused(host: String, why: String) async throws {
        var configuration = MirrorConfiguration()
        configuration.allowedHosts = [HostPattern(host)!]
        let policy = SourcePolicy(configuration: configuration)
        do {
            let target = try policy.check("https://\(host)/video.mp4")
            try await policy.resolve(target)
            Issue.record("\(host) was allowed")
        } catch {
            #expect(error.code == .sourceNotAllowed && error.permanent, "\(host): \(error)")
            #expect("\(error)".contains(why), "\(error)")
        }
    }

    @Test func internalAddressesInEveryForm() {
        for inside in [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "::", "::1",
            "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::", "fe80::1", "fc00::1", "fd12::1", "ff02::1", "2001:db8::1",
        ] {
            #expect(IPAddress(inside)?.isInternal == true, "\(inside)")
        }
        for outside in ["8.8.8.8", "151.101.1.1", "2606:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8", "2002:0808:0808::"] {
            #expect(IPAddress(outside)?.isInternal == false, "\(outside)")
        }
        #expect(IPAddress("127.1") == nil && IPAddress("0x7f.0.0.1") == nil && IPAddress("fe80::1%lo") == nil)
    }

    @Test func hostPatterns() {
        #expect(HostPattern("*.fal.media")!.matches(host: "v3.fal.media", port: 443))
        #expect(!HostPattern("*.fal.media")!.matches(host: "fal.media", port: 443))
        #expect(HostPattern("127.0.0.1:8443")!.matches(host: "127.0.0.1", port: 8443))
        #expect(!HostPattern("127.0.0.1:8443")!.matches(host: "127.0.0.1", port: 443))
        #expect(HostPattern("") == nil)
        #expect(HostPattern("a/b") == nil)
        #expect(HostPattern("host:99999") == nil)
        // IP literals, with and without a port; IPv6 needs brackets only with a port.
        #expect(HostPattern("::1") == HostPattern("[::1]"))
        #expect(HostPattern("::1")!.matches(host: "::1", port: 443) && HostPattern("::1")!.port == nil)
        #expect(HostPattern("2001:db8::10")!.host == "2001:db8::10")
        #expect(HostPattern("[2001:db8::10]:8443")!.matches(host: "2001:db8::10", port: 8443))
        #expect(!HostPattern("[2001:db8::10]:8443")!.matches(host: "2001:db8::10", port: 443))
        #expect(HostPattern("fal.media")!.matches(host: "fal.media", port: 8443), "no port: any port")
    }

    @Test func objectKeysFollowTheContentType() {
        #expect(Mirrorer.objectKey(requestID: "r", contentType: "video/mp4", sourcePath: "/x") == "videos/r.mp4")
        #expect(Mirrorer.objectKey(requestID: "r", contentType: "video/webm; codecs=vp9", sourcePath: "/x") == "videos/r.webm")
        #expect(Mirrorer.objectKey(requestID: "r", contentType: "application/octet-stream", sourcePath: "/a/b.mov") == "videos/r.mov")
        #expect(Mirrorer.objectKey(requestID: "r", contentType: "", sourcePath: "/a/b") == "videos/r.mp4")
    }

    /// CONTRACT § Worker: 8 attempts, 2 s doubling to 5 min, with jitter; no wait beyond the cap.
    @Test func retriesBackOffFromTwoSecondsToFiveMinutes() {
        let configuration = MirrorConfiguration()
        #expect(configuration.maximumAttempts == 8)
        for attempt in 1...12 {
            let nominal = min(300, 2 * Double(1 << (attempt - 1)))
            for _ in 0..<200 {
                let wait = configuration.backoff(afterAttempt: attempt)
                #expect(wait >= nominal * 0.8 - 1e-9 && wait <= min(300, nominal * 1.2) + 1e-9, "attempt \(attempt): \(wait) s")
            }
        }
    }

    /// CONTRACT § Worker: payload's content_type, else the source's, else by extension, else application/octet-stream.
    @Test func storedContentTypeFollowsTheContractsOrder() {
        func type(_ payload: String?, _ source: String?, _ path: String) -> String {
            let resolved = Mirrorer.objectType(payloadType: payload, sourceType: source, sourcePath: path)
            return "\(resolved.extension) \(resolved.contentType)"
        }
        #expect(type("video/webm", "video/mp4", "/a/b.mov") == "webm video/webm")
        #expect(type(nil, "video/quicktime", "/a/b") == "mov video/quicktime")
        #expect(type("", " ", "/a/b.webm") == "webm video/webm", "empty types count as absent")
        #expect(type(nil, nil, "/a/b.mkv") == "mkv video/x-matroska")
        #expect(type(nil, nil, "/a/b") == "mp4 application/octet-stream", "nothing names a type")
        #expect(type(nil, "application/octet-stream", "/a/b") == "mp4 application/octet-stream")
        #expect(type(nil, nil, "/a/b.xyz") == "xyz application/octet-stream")
    }
}

/// Signatures made by Python's `cryptography` verify here.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason))
struct WebhookCrossCheckTests {
    struct Case: Codable {
        var request_id: String
        var user_id: String
        var timestamp: String
        var body: String
    }

    struct Request: Codable {
        var seed: String
        var cases: [Case]
    }

    struct Response: Codable {
        var public_key: String
        var signatures: [String]
    }

    @Test func signaturesFromPythonVerify() async throws {
        let now: Int64 = 1_800_000_000
        let bodies = [#"{"request_id":"a"}"#, "", String(repeating: "é", count: 5000)]
        let cases = bodies.enumerated().map { index, body in
            Case(
                request_id: "req-\(index)", user_id: "user-\(index)", timestamp: String(now - Int64(index)),
                body: Data(body.utf8).base64EncodedString())
        }
        let response = try runPythonPeer(
            "fal_webhook_sign.py", input: Request(seed: Hex.encode(try SecureRandom.bytes(32)), cases: cases), as: Response.self)
        let x = Base64URL.encode(try #require(Hex.decode(response.public_key)))
        let (verifier, path) = try WebhookVerifierTests.verifier(jwks: #"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"\#(x)"}]}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        for (testCase, signature) in zip(cases, response.signatures) {
            let headers = FalWebhookHeaders(
                requestID: testCase.request_id, userID: testCase.user_id, timestamp: testCase.timestamp, signature: signature)
            let body = [UInt8](Data(base64Encoded: testCase.body)!)
            let good = try await verifier.verify(headers, body: body, now: now)
            #expect(throws: Never.self) { try good.get() }
            let tampered = try await verifier.verify(headers, body: body + [1], now: now)
            #expect(throws: WebhookRejection.self) { try tampered.get() }
        }
    }
}
