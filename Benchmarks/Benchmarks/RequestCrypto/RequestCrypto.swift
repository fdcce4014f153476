import Benchmark
import SigV4
import UsherCrypto
import ViewerAuth

/// The gateway's per-request crypto: one presign and one token verification.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )

    let configuration = try! S3Configuration(
        endpoint: S3Endpoint("https://abc123.r2.cloudflarestorage.com"), region: "auto", bucket: "usher",
        credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))
    let presigner = try! Presigner(configuration: configuration)
    let key = "videos/3f1c9a2e-7b4d-4c55-9e61-0a8b2f6d9c13.mp4"
    let now: Int64 = 1_800_000_000

    Benchmark("presign") { benchmark in
        for i in benchmark.scaledIterations {
            blackHole(try! presigner.presignedGET(key: key, ttl: 900, now: now + Int64(i & 63)))
        }
    }

    let downloadOverrides = ResponseOverrides.attachment(filename: "my clip.mp4")
    Benchmark("presign with download") { benchmark in
        for i in benchmark.scaledIterations {
            blackHole(try! presigner.presignedGET(key: key, ttl: 900, now: now + Int64(i & 63), overrides: downloadOverrides))
        }
    }

    let hmacSecret = [UInt8](repeating: 0x5a, count: 32)
    let seed: [UInt8] = (0..<32).map { UInt8($0) }
    let edKey = try! Ed25519PrivateKey(seed: seed)
    let jwks = """
        {"keys":[{"kty":"oct","kid":"hs1","k":"\(Base64URL.encode(hmacSecret))"},
        {"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"\(Base64URL.encode(edKey.publicKey.rawRepresentation))","d":"\(Base64URL.encode(seed))"}]}
        """
    let keySet = try! ViewerKeySet(jwks: Array(jwks.utf8))
    let verifier = ViewerTokenVerifier(keySet: keySet)
    func mint(_ kid: String) -> String {
        var claims = ViewerTokenMinter.Claims(issuedAt: now, expiresAt: now + 3600)
        claims.videoIDs = ["3f1c9a2e-7b4d-4c55-9e61-0a8b2f6d9c13"]
        claims.subject = "viewer-42"
        return try! ViewerTokenMinter(key: keySet.keys.first { $0.id == kid }!).mint(claims)
    }
    let hsToken = mint("hs1")
    let edToken = mint("ed1")

    Benchmark("HS256 verify") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(verifier.verify(hsToken, now: now))
        }
    }

    Benchmark("EdDSA verify", configuration: .init(scalingFactor: .one)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(verifier.verify(edToken, now: now))
        }
    }
}
