import SigV4
import Testing
import UsherCrypto

/// The worked examples from AWS's "Signature Version 4 for Amazon S3" documentation.
@Suite struct AWSExampleTests {
    static let credentials = S3Credentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    /// 2013-05-24T00:00:00Z
    static let exampleTime: Int64 = 1_369_353_600

    static func configuration() throws -> S3Configuration {
        try S3Configuration(
            endpoint: S3Endpoint("https://s3.amazonaws.com"), region: "us-east-1", bucket: "examplebucket",
            credentials: credentials, addressing: .virtual)
    }

    @Test func presignedGETMatchesTheDocumentation() throws {
        let presigner = try Presigner(configuration: Self.configuration())
        let url = try presigner.presignedGET(key: "test.txt", ttl: 86400, now: Self.exampleTime)
        #expect(
            url.url
                == "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        )
        #expect(url.expiresAt == Self.exampleTime + 86400)
    }

    @Test func headerSignedGETWithRange() throws {
        let signer = try RequestSigner(configuration: Self.configuration())
        let signed = signer.sign(
            S3Request(method: "GET", key: "test.txt", headers: [("Range", "bytes=0-9")]),
            payloadHash: RequestSigner.emptyPayload, now: Self.exampleTime)
        #expect(
            signed.header("Authorization")
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
        #expect(signed.url == "https://examplebucket.s3.amazonaws.com/test.txt")
    }

    @Test func headerSignedPUT() throws {
        let signer = try RequestSigner(configuration: Self.configuration())
        let body = "Welcome to Amazon S3."
        let payloadHash = SHA256.hash(body).hexString
        #expect(payloadHash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let signed = signer.sign(
            S3Request(
                method: "PUT", key: "test$file.text",
                headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")]),
            payloadHash: payloadHash, now: Self.exampleTime)
        #expect(
            signed.header("Authorization")
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        )
        #expect(signed.url == "https://examplebucket.s3.amazonaws.com/test%24file.text")
    }

    /// AWS's GET Bucket Lifecycle example: a query parameter without a value.
    @Test func headerSignedQueryWithoutValue() throws {
        let signer = try RequestSigner(configuration: Self.configuration())
        let signed = signer.sign(
            S3Request(method: "GET", key: nil, query: [("lifecycle", "")]), payloadHash: RequestSigner.emptyPayload,
            now: Self.exampleTime)
        #expect(
            signed.header("Authorization")
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        )
    }
}
