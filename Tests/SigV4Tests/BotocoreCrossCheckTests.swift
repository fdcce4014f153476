import SigV4
import Testing
import UsherTestSupport

/// Presigned URLs must be byte-identical to botocore's for the same inputs and signing time.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason))
struct BotocoreCrossCheckTests {
    struct Case: Codable {
        var endpoint: String
        var region: String
        var bucket: String
        var key: String
        var addressing: String
        var access_key: String
        var secret_key: String
        var token: String?
        var disposition: String?
        var content_type: String?
        var expires: Int
        var time: Int64
    }

    /// Deterministic, so a failure reproduces.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Keys that stress the encoder: non-ASCII, spaces, reserved characters, `//`, dot segments, long keys.
    static func randomKey(_ rng: inout SplitMix64, index: Int) -> String {
        let pieces = [
            "a", "Z", "9", "-", "_", ".", "~", " ", "+", "=", "%", "&", "?", "#", "/", "//", "é", "日本", "🎬", "'", "(", ")",
            "*", "!", "$", ",", ";", ":", "@", "[", "]", "\"", "<", ">", "\\", "^", "`", "{", "|", "}", "..", "videos/",
            "%20", "%2F", "ü", "\u{7F}", "\t",
        ]
        if index % 97 == 0 {
            // Exactly 1,024 bytes.
            return String(repeating: "k", count: 1020) + "é/x"
        }
        let count = Int.random(in: 1...24, using: &rng)
        var key = ""
        for _ in 0..<count { key += pieces.randomElement(using: &rng)! }
        while key.utf8.count > 1024 { key.removeLast() }
        return key
    }

    @Test func presignedURLsMatchBotocore() throws {
        var rng = SplitMix64(state: 20_261_129)
        let endpoints = [
            ("http://127.0.0.1:8333", "us-east-1"), ("https://abc123.r2.cloudflarestorage.com", "auto"),
            ("https://s3.eu-west-1.amazonaws.com", "eu-west-1"), ("https://minio.example.com:9000", "us-east-1"),
            ("http://storage.local:80", "us-east-1"),
        ]
        var cases: [Case] = []
        var index = 0
        for addressing in ["path", "virtual"] {
            for withToken in [false, true] {
                for withOverrides in [false, true] {
                    for _ in 0..<150 {
                        index += 1
                        let (endpoint, region) = endpoints[index % endpoints.count]
                        // Virtual-hosted style needs a DNS name, as botocore does not prefix IP literals.
                        if addressing == "virtual" && endpoint.contains("127.0.0.1") { continue }
                        let key = Self.randomKey(&rng, index: index)
                        let name = Self.randomKey(&rng, index: index + 1).split(separator: "/").last.map(String.init) ?? "v.mp4"
                        cases.append(
                            Case(
                                endpoint: endpoint, region: region, bucket: index % 3 == 0 ? "usher-videos" : "usher",
                                key: key, addressing: addressing, access_key: "AKIDEXAMPLE\(index % 4)",
                                secret_key: "secret/+\(index % 5)key", token: withToken ? "FQoGZXIvYXdzE+/=token\(index % 3)" : nil,
                                disposition: withOverrides ? ResponseOverrides.attachment(filename: name).contentDisposition : nil,
                                content_type: withOverrides && index % 2 == 0 ? "video/mp4; codecs=\"avc1\"" : nil,
                                expires: [1, 60, 900, 3600, 604_800][index % 5],
                                time: 1_700_000_000 + Int64(index) * 7919))
                    }
                }
            }
        }
        #expect(cases.count >= 1000)
        let expected = try runPythonPeer("botocore_presign.py", input: cases, as: [String].self)
        #expect(expected.count == cases.count)
        var mismatches = 0
        for (testCase, botocoreURL) in zip(cases, expected) {
            let configuration = try S3Configuration(
                endpoint: S3Endpoint(testCase.endpoint), region: testCase.region, bucket: testCase.bucket,
                credentials: S3Credentials(accessKeyID: testCase.access_key, secretAccessKey: testCase.secret_key, sessionToken: testCase.token),
                addressing: testCase.addressing == "path" ? .path : .virtual)
            let presigner = try Presigner(configuration: configuration)
            let url = try presigner.presignedGET(
                key: testCase.key, ttl: testCase.expires, now: testCase.time,
                overrides: ResponseOverrides(contentDisposition: testCase.disposition, contentType: testCase.content_type))
            if url.url != botocoreURL {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record("key \(testCase.key.debugDescription):\n usher    \(url.url)\n botocore \(botocoreURL)")
                }
            }
        }
        #expect(mismatches == 0)
    }
}
