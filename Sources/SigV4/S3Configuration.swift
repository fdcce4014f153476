import HostAddress

/// Where objects live and how to sign for them. Filled from `S3_*` environment variables by the CLI.
public struct S3Configuration: Sendable {
    public enum Addressing: String, Sendable {
        /// `https://endpoint/bucket/key`: works with any endpoint, IP literals and SeaweedFS included.
        case path
        /// `https://bucket.endpoint/key`: AWS's preferred style; needs DNS for `bucket.endpoint`.
        case virtual
    }

    /// S3 endpoint, e.g. `https://<account>.r2.cloudflarestorage.com` or `http://127.0.0.1:8333`.
    /// Default: `https://s3.<region>.amazonaws.com` (what AWS SDKs use when no endpoint is given).
    public var endpoint: S3Endpoint
    /// Signing region. Default `auto` (Cloudflare R2's region).
    public var region: String
    public var bucket: String
    public var credentials: S3Credentials
    /// Default `.path`.
    public var addressing: Addressing

    public init(
        endpoint: S3Endpoint? = nil,
        region: String = "auto",
        bucket: String,
        credentials: S3Credentials,
        addressing: Addressing = .path
    ) throws(SigV4Error) {
        guard !region.isEmpty else { throw SigV4Error(.invalidConfiguration, "S3_REGION must not be empty") }
        guard !bucket.isEmpty else { throw SigV4Error(.invalidConfiguration, "S3_BUCKET must not be empty") }
        guard !credentials.accessKeyID.isEmpty else {
            throw SigV4Error(.invalidConfiguration, "S3_ACCESS_KEY_ID must not be empty")
        }
        if let endpoint {
            self.endpoint = endpoint
        } else {
            self.endpoint = try S3Endpoint("https://s3.\(region).amazonaws.com")
        }
        self.region = region
        self.bucket = bucket
        self.credentials = credentials
        self.addressing = addressing
    }

    /// The authority to put in URLs and the host to sign, which differ only when the endpoint spells out
    /// its scheme's default port (botocore signs `host` without it).
    func hostNames() -> (authority: String, signedHost: String) {
        let prefix = addressing == .virtual ? bucket + "." : ""
        return (prefix + endpoint.authority, prefix + endpoint.signedHost)
    }

    /// The path in front of an encoded key, `/bucket/` or `/`.
    func pathPrefix() -> String {
        addressing == .path ? "/" + URIEncoding.encode(bucket, keepSlash: false) + "/" : "/"
    }
}

public struct S3Credentials: Sendable {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// Set for temporary credentials (STS); sent as `X-Amz-Security-Token`.
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

extension S3Credentials: CustomStringConvertible {
    /// Keeps secrets out of logs and `print(configuration)`.
    public var description: String {
        "S3Credentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>\(sessionToken == nil ? "" : ", sessionToken: <redacted>"))"
    }
}

/// `scheme://host[:port]`, parsed once.
public struct S3Endpoint: Sendable, Equatable {
    public let scheme: String
    public let host: String
    public let port: Int?

    public init(_ text: String) throws(SigV4Error) {
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") {
            scheme = "https"
        } else if lower.hasPrefix("http://") {
            scheme = "http"
        } else {
            throw SigV4Error(.invalidEndpoint, "S3 endpoint must start with http:// or https://: \(text)")
        }
        var rest = Substring(lower.dropFirst(scheme.count + 3))
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("?"), !rest.contains("@") else {
            throw SigV4Error(.invalidEndpoint, "S3 endpoint must be scheme://host[:port] with no path: \(text)")
        }
        // An IPv6 literal keeps its brackets here: `host` is what the URL and the signed Host header say.
        guard let address = HostPort(rest) else {
            throw SigV4Error(.invalidEndpoint, "S3 endpoint must be scheme://host[:port] with a port in 1…65535: \(text)")
        }
        guard address.port != 0 else { throw SigV4Error(.invalidEndpoint, "S3 endpoint has an invalid port: \(text)") }
        self.scheme = scheme
        self.host = address.hostForURL
        self.port = address.port
    }

    var authority: String { port.map { "\(host):\($0)" } ?? host }

    var signedHost: String {
        guard let port, port != (scheme == "https" ? 443 : 80) else { return host }
        return "\(host):\(port)"
    }
}

extension S3Configuration {
    /// The object's unsigned URL in the bucket (the `cdn_url` when no public base URL is set).
    public func objectURL(key: String) -> String {
        let (authority, _) = hostNames()
        return "\(endpoint.scheme)://\(authority)\(pathPrefix())\(URIEncoding.encode(key, keepSlash: true))"
    }
}

/// Public (unsigned) URLs under `PUBLIC_BASE_URL`: the key encoded as in an S3 canonical path.
public struct PublicURLBuilder: Sendable {
    public let baseURL: String

    /// Trailing slashes of `baseURL` are trimmed.
    public init(baseURL: String) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
    }

    public func url(key: String) -> String { baseURL + "/" + URIEncoding.encode(key, keepSlash: true) }
}

/// The canonical URL we own for an object: under `PUBLIC_BASE_URL` when set, else the bucket's own URL.
public struct CDNURLs: Sendable {
    let s3: S3Configuration
    let publicURLs: PublicURLBuilder?

    public init(s3: S3Configuration, publicBaseURL: String?) {
        self.s3 = s3
        self.publicURLs = publicBaseURL.map(PublicURLBuilder.init(baseURL:))
    }

    public func url(key: String) -> String { publicURLs?.url(key: key) ?? s3.objectURL(key: key) }
}
