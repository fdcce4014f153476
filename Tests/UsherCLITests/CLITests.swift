import Foundation
import Testing
import UsherCrypto
import UsherTestSupport
import ViewerAuth

@Suite struct CLITests {
    static let awsExample = [
        "S3_ENDPOINT": "https://s3.amazonaws.com", "S3_REGION": "us-east-1", "S3_BUCKET": "examplebucket",
        "S3_ADDRESSING": "virtual", "S3_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "S3_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ]

    @Test func presignPrintsTheDocumentedURL() throws {
        let outcome = try UsherBinary.run(["presign", "test.txt", "--ttl", "86400", "--now", "2013-05-24T00:00:00Z"], environment: Self.awsExample)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.hasSuffix("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404\n"))
    }

    @Test func presignReadsPresignTTLAndDownload() throws {
        var environment = Self.awsExample
        environment["PRESIGN_TTL"] = "600"
        let outcome = try UsherBinary.run(["presign", "a b.mp4", "--download", "x.mp4", "--now", "2013-05-24T00:00:00Z"], environment: environment)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(
            outcome.stdout.contains(
                "/a%20b.mp4?response-content-disposition=attachment%3B%20filename%3D%22x.mp4%22%3B%20filename%2A%3DUTF-8%27%27x.mp4&"))
        #expect(outcome.stdout.contains("X-Amz-Expires=600&"))
    }

    @Test(arguments: [
        (["presign", "k", "--ttl", "604801"], [String: String](), "between 1 and 604800"),
        (["presign", "k", "--ttl", "0"], [:], "between 1 and 604800"),
        (["presign", "k", "--now", "yesterday"], [:], "--now must be an RFC 3339 time"),
        (["presign", "k"], ["S3_BUCKET": ""], "S3_BUCKET is not set"),
        (["presign", "k"], ["S3_ADDRESSING": "dns"], "S3_ADDRESSING must be path or virtual"),
        (["presign", "k"], ["S3_ENDPOINT": "ftp://x"], "must start with http:// or https://"),
        (["presign", "k"], ["PRESIGN_TTL": "soon"], "PRESIGN_TTL must be an integer"),
        (["presign", "k"], ["PRESIGN_WINDOW": "604800"], "PRESIGN_WINDOW must be an integer in 0...86400"),
        (["presign", "k"], ["LOG_LEVEL": "loud"], "LOG_LEVEL must be trace, debug, info"),
        (["migrate"], ["USHER_EVENT_LOOPS": "many"], "USHER_EVENT_LOOPS must be an integer"),
        (["presign", String(repeating: "k", count: 1025)], [:], "object key must be 1 to 1024 bytes"),
    ])
    func presignNamesWhatIsWrong(arguments: [String], overrides: [String: String], message: String) throws {
        let environment = Self.awsExample.merging(overrides) { _, new in new }.filter { !$0.value.isEmpty }
        let outcome = try UsherBinary.run(arguments, environment: environment)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains(message), "stderr: \(outcome.stderr)")
        #expect(!outcome.stderr.contains("wJalrXUtnFEMI"), "a secret reached the error output")
    }

    static func writeKeyFile() throws -> (path: String, keySet: ViewerKeySet) {
        let seed: [UInt8] = (0..<32).map { UInt8($0 + 1) }
        let ed = try Ed25519PrivateKey(seed: seed)
        let jwks = """
            {"keys":[{"kty":"oct","kid":"hs","k":"\(Base64URL.encode([UInt8](repeating: 9, count: 32)))"},
            {"kty":"OKP","crv":"Ed25519","kid":"ed","x":"\(Base64URL.encode(ed.publicKey.rawRepresentation))","d":"\(Base64URL.encode(seed))"},
            {"kty":"OKP","crv":"Ed25519","kid":"public-only","x":"\(Base64URL.encode(ed.publicKey.rawRepresentation))"}]}
            """
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("usher-cli-keys-\(UUID().uuidString).json").path
        try jwks.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, try ViewerKeySet(jwks: Array(jwks.utf8)))
    }

    @Test(arguments: ["hs", "ed"])
    func tokenMintPrintsAVerifiableToken(kid: String) throws {
        let (path, keySet) = try Self.writeKeyFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let outcome = try UsherBinary.run(
            ["token", "mint", "--kid", kid, "--vid", "v1", "--vid", "v2", "--own", "app", "--sub", "s1", "--jti", "j1", "--ttl", "120"],
            environment: ["USHER_TOKEN_KEYS": path])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let now = Int64(Date().timeIntervalSince1970)
        let grant = try ViewerTokenVerifier(keySet: keySet).verify(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines), now: now).get()
        #expect(grant.videoIDs == ["v1", "v2"])
        #expect(grant.owner == "app")
        #expect(grant.subject == "s1")
        #expect(grant.tokenID == "j1")
        #expect(abs(grant.expiresAt - (now + 120)) <= 2)
    }

    @Test func tokenMintRefusesWhatItCannotSign() throws {
        let (path, _) = try Self.writeKeyFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let env = ["USHER_TOKEN_KEYS": path]
        let noScope = try UsherBinary.run(["token", "mint", "--kid", "hs", "--ttl", "60"], environment: env)
        #expect(noScope.status != 0)
        #expect(noScope.stderr.contains("at least one --vid or --own"))
        let unknown = try UsherBinary.run(["token", "mint", "--kid", "nope", "--vid", "v"], environment: env)
        #expect(unknown.stderr.contains("no key with kid \"nope\""))
        let publicOnly = try UsherBinary.run(["token", "mint", "--kid", "public-only", "--vid", "v"], environment: env)
        #expect(publicOnly.stderr.contains("has no private part"))
        let noFile = try UsherBinary.run(["token", "mint", "--kid", "hs", "--vid", "v"], environment: [:])
        #expect(noFile.stderr.contains("USHER_TOKEN_KEYS is not set"))
    }
}
