import UsherCrypto

/// An S3 request to sign with an `Authorization` header (the mirror's PUT, UploadPart,
/// CreateMultipartUpload, CompleteMultipartUpload and AbortMultipartUpload).
public struct S3Request: Sendable {
    public var method: String
    /// The object key, or nil for a request on the bucket itself.
    public var key: String?
    /// Query parameters, unencoded; a parameter without a value (`?uploads`) has an empty value.
    public var query: [(name: String, value: String)]
    /// Extra headers to sign and send (`Range`, `Content-Type`, `Content-Length`…).
    public var headers: [(name: String, value: String)]

    public init(method: String, key: String?, query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = []) {
        self.method = method
        self.key = key
        self.query = query
        self.headers = headers
    }
}

/// What to send: the full URL and every header, `Authorization` included.
public struct SignedRequest: Sendable {
    public let url: String
    public let headers: [(name: String, value: String)]

    /// The value of a header by case-insensitive name.
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }
}

/// SigV4 header signing for S3 (AWS's "Authorization header" flavour). Not on the gateway's hot path, so it
/// favours plain strings over the presigner's in-place writing; both share `URIEncoding`, `AMZDate` and the
/// signing-key derivation.
public final class RequestSigner: Sendable {
    public let configuration: S3Configuration
    private let keys: SigningKeyCache

    /// The payload hash that signs no body bytes (what streaming uploads over TLS use).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty body.
    public static let emptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public init(configuration: S3Configuration) {
        self.configuration = configuration
        self.keys = SigningKeyCache(secretAccessKey: configuration.credentials.secretAccessKey, region: configuration.region, service: "s3")
    }

    /// Signs `request` at `now` (Unix seconds). `payloadHash` is the lowercase hex SHA-256 of the body,
    /// `emptyPayload`, or `unsignedPayload`; it is sent as `x-amz-content-sha256`.
    public func sign(_ request: S3Request, payloadHash: String, now: Int64) -> SignedRequest {
        let date = AMZDate(unixSeconds: now)
        let timestamp = date.timestamp
        let (authority, host) = configuration.hostNames()
        let path = configuration.pathPrefix() + (request.key.map { URIEncoding.encode($0, keepSlash: true) } ?? "")
        let canonicalPath = request.key == nil && configuration.addressing == .path ? String(path.dropLast()) : path

        let encodedQuery = request.query
            .map { (URIEncoding.encode($0.name, keepSlash: false), URIEncoding.encode($0.value, keepSlash: false)) }
            .sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
        let canonicalQuery = encodedQuery.map { "\($0.0)=\($0.1)" }.joined(separator: "&")

        var headers = request.headers
        headers.append(("host", host))
        headers.append(("x-amz-date", timestamp))
        headers.append(("x-amz-content-sha256", payloadHash))
        if let token = configuration.credentials.sessionToken { headers.append(("x-amz-security-token", token)) }

        var canonicalHeaders: [String: [String]] = [:]
        for (name, value) in headers {
            canonicalHeaders[name.lowercased(), default: []].append(Self.normalizeHeaderValue(value))
        }
        let names = canonicalHeaders.keys.sorted()
        let signedHeaders = names.joined(separator: ";")
        let headerBlock = names.map { "\($0):\(canonicalHeaders[$0]!.joined(separator: ","))\n" }.joined()

        let canonicalRequest = [request.method, canonicalPath, canonicalQuery, headerBlock, signedHeaders, payloadHash]
            .joined(separator: "\n")
        let scope = "\(date.date)/\(configuration.region)/s3/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(timestamp)\n\(scope)\n\(SHA256.hash(canonicalRequest).hexString)"
        let signature = keys.key(for: date, day: AMZDate.dayNumber(now)).authenticationCode(for: stringToSign).hexString

        headers.append(
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(configuration.credentials.accessKeyID)/\(scope),SignedHeaders=\(signedHeaders),Signature=\(signature)"
            ))
        let url = "\(configuration.endpoint.scheme)://\(authority)\(canonicalPath)" + (encodedQuery.isEmpty ? "" : "?" + canonicalQuery)
        return SignedRequest(url: url, headers: headers)
    }

    /// Trims and folds runs of spaces, as SigV4's canonical headers require.
    static func normalizeHeaderValue(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}
