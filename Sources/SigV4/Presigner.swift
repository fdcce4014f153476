import UsherCrypto

/// Optional `response-*` overrides S3 applies to the GET's response headers.
public struct ResponseOverrides: Sendable, Equatable {
    /// `response-content-disposition`, e.g. `attachment; filename="a.mp4"`.
    public var contentDisposition: String?
    /// `response-content-type`.
    public var contentType: String?

    public init(contentDisposition: String? = nil, contentType: String? = nil) {
        self.contentDisposition = contentDisposition
        self.contentType = contentType
    }

    public static let none = ResponseOverrides()
}

/// A presigned URL and the Unix second it stops working (for `Cache-Control: max-age`).
public struct PresignedURL: Sendable, Equatable {
    public let url: String
    public let expiresAt: Int64
}

/// S3 SigV4 query-string signing (presigned GET), byte-identical to botocore's `generate_presigned_url`.
///
/// The rules, in one place:
/// - The key is percent-encoded once (RFC 3986 unreserved and `/` left bare) and is both the URL path and the
///   canonical URI; S3 does not normalise `//`, `.` or `..`.
/// - `X-Amz-SignedHeaders=host` and the payload hash `UNSIGNED-PAYLOAD`; `host` carries the port unless it is the
///   scheme's default.
/// - The canonical query is sorted by name (`X-Amz-*` before `response-*`); the URL lists the `response-*`
///   overrides first, then the auth parameters in botocore's order, then `X-Amz-Signature`.
/// - With a signing window W, `X-Amz-Date` is floored to a multiple of W and `X-Amz-Expires` is TTL + W: every
///   viewer of a key within one window gets the same cacheable URL, valid for at least the TTL.
///
/// A presign writes the URL straight into the returned string's storage and hashes slices of it, so the only
/// allocation is the URL itself.
public final class Presigner: Sendable {
    /// The most S3 accepts for `X-Amz-Expires` (7 days).
    public static let maximumExpiry = 604_800

    public let configuration: S3Configuration
    /// Signing-time window in seconds; 0 turns bucketing off.
    public let signingWindow: Int

    private let urlPrefix: [UInt8]  // scheme://authority
    private let pathPrefix: [UInt8]  // /bucket/ or /
    private let signedHost: [UInt8]
    private let credentialPrefix: [UInt8]  // AKID%2F (encoded)
    private let scopeSuffix: [UInt8]  // /region/s3/aws4_request
    private let encodedScopeSuffix: [UInt8]  // %2Fregion%2Fs3%2Faws4_request
    private let encodedSessionToken: [UInt8]?
    private let keys: SigningKeyCache

    public init(configuration: S3Configuration, signingWindow: Int = 0) throws(SigV4Error) {
        guard signingWindow >= 0, signingWindow < Self.maximumExpiry else {
            throw SigV4Error(.invalidConfiguration, "PRESIGN_WINDOW must be between 0 and \(Self.maximumExpiry - 1) seconds, got \(signingWindow)")
        }
        self.configuration = configuration
        self.signingWindow = signingWindow
        let (authority, host) = configuration.hostNames()
        urlPrefix = Array("\(configuration.endpoint.scheme)://\(authority)".utf8)
        pathPrefix = Array(configuration.pathPrefix().utf8)
        signedHost = Array(host.utf8)
        credentialPrefix = Array((URIEncoding.encode(configuration.credentials.accessKeyID, keepSlash: false) + "%2F").utf8)
        scopeSuffix = Array("/\(configuration.region)/s3/aws4_request".utf8)
        encodedScopeSuffix = Array(URIEncoding.encode("/\(configuration.region)/s3/aws4_request", keepSlash: false).utf8)
        encodedSessionToken = configuration.credentials.sessionToken.map { Array(URIEncoding.encode($0, keepSlash: false).utf8) }
        keys = SigningKeyCache(secretAccessKey: configuration.credentials.secretAccessKey, region: configuration.region, service: "s3")
    }

    /// A presigned GET for `key`, valid for `ttl` seconds from `now` (Unix seconds; longer when a signing window
    /// is set). Throws for an empty or over-long key, or a TTL outside 1...604800 (including the window).
    ///
    /// `bucketed: false` signs at `now` with exactly `ttl` even when a window is set: for URLs that must not outlive
    /// something shorter-lived than the window allows (a share link's remaining life).
    public func presignedGET(
        key: String, ttl: Int, now: Int64, overrides: ResponseOverrides = .none, bucketed: Bool = true
    ) throws(SigV4Error) -> PresignedURL {
        let window = bucketed ? signingWindow : 0
        let expires = ttl + window
        guard ttl >= 1, expires <= Self.maximumExpiry else {
            throw SigV4Error(.invalidExpiry, "presigned URL expiry must be between 1 and \(Self.maximumExpiry - window) seconds, got \(ttl)")
        }
        let signingTime = signingTime(at: now, bucketed: bucketed)
        var key = key
        var disposition = overrides.contentDisposition
        var contentType = overrides.contentType
        let url: String? = key.withUTF8 { keyBytes in
            guard keyBytes.count >= 1, keyBytes.count <= 1024 else { return nil }
            return withUTF8(&disposition) { dispositionBytes in
                withUTF8(&contentType) { typeBytes in
                    write(key: keyBytes, disposition: dispositionBytes, contentType: typeBytes, expires: expires, signingTime: signingTime)
                }
            }
        }
        guard let url else { throw SigV4Error(.invalidKey, "object key must be 1 to 1024 bytes of UTF-8") }
        return PresignedURL(url: url, expiresAt: signingTime + Int64(expires))
    }

    /// When a URL presigned at `now` says it was signed (`X-Amz-Date`): the start of the signing window, or `now`
    /// itself without one (or with `bucketed: false`). URLs of one key signed at the same time are the same URL.
    public func signingTime(at now: Int64, bucketed: Bool = true) -> Int64 {
        let window = bucketed ? signingWindow : 0
        return window > 0 ? now.floorDiv(Int64(window)) * Int64(window) : now
    }

    private func write(
        key: UnsafeBufferPointer<UInt8>, disposition: UnsafeBufferPointer<UInt8>?, contentType: UnsafeBufferPointer<UInt8>?,
        expires: Int, signingTime: Int64
    ) -> String {
        let date = AMZDate(unixSeconds: signingTime)
        let signingKey = keys.key(for: date, day: AMZDate.dayNumber(signingTime))
        let capacity =
            urlPrefix.count + pathPrefix.count + 3 * key.count + 3 * (disposition?.count ?? 0)
            + 3 * (contentType?.count ?? 0) + credentialPrefix.count + encodedScopeSuffix.count
            + (encodedSessionToken?.count ?? 0) + Self.fixedQueryLength

        return String(unsafeUninitializedCapacity: capacity) { out in
            var w = Writer(out: out)
            w.append(urlPrefix)
            let pathStart = w.position
            w.append(pathPrefix)
            w.appendEncoded(key, keepSlash: true)
            let path = pathStart..<w.position
            w.append("?")
            var dispositionRange: Range<Int>?
            var typeRange: Range<Int>?
            if let disposition {
                w.append("response-content-disposition=")
                let start = w.position
                w.appendEncoded(disposition, keepSlash: false)
                dispositionRange = start..<w.position
                w.append("&")
            }
            if let contentType {
                w.append("response-content-type=")
                let start = w.position
                w.appendEncoded(contentType, keepSlash: false)
                typeRange = start..<w.position
                w.append("&")
            }
            w.append("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=")
            let credentialStart = w.position
            w.append(credentialPrefix)
            let credentialDate = w.position
            w.position = date.writeDate(into: out, at: w.position)
            let dateOnly = credentialDate..<w.position
            w.append(encodedScopeSuffix)
            let credential = credentialStart..<w.position
            w.append("&X-Amz-Date=")
            let timestampStart = w.position
            w.position = date.writeTimestamp(into: out, at: w.position)
            let timestamp = timestampStart..<w.position
            w.append("&X-Amz-Expires=")
            let expiresStart = w.position
            w.appendDecimal(expires)
            let expiresRange = expiresStart..<w.position
            w.append("&X-Amz-SignedHeaders=host")
            if let encodedSessionToken {
                w.append("&X-Amz-Security-Token=")
                w.append(encodedSessionToken)
            }

            // Canonical request, hashed from the pieces already in the URL, in canonical (sorted) order.
            var canonical = SHA256()
            let written = UnsafeBufferPointer(rebasing: out[0..<w.position])
            func piece(_ range: Range<Int>) { canonical.update(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: written[range]))) }
            canonical.update("GET\n" as StaticString)
            piece(path)
            canonical.update("\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" as StaticString)
            piece(credential)
            canonical.update("&X-Amz-Date=" as StaticString)
            piece(timestamp)
            canonical.update("&X-Amz-Expires=" as StaticString)
            piece(expiresRange)
            if let encodedSessionToken {
                canonical.update("&X-Amz-Security-Token=" as StaticString)
                canonical.update(encodedSessionToken)
            }
            canonical.update("&X-Amz-SignedHeaders=host" as StaticString)
            if let dispositionRange {
                canonical.update("&response-content-disposition=" as StaticString)
                piece(dispositionRange)
            }
            if let typeRange {
                canonical.update("&response-content-type=" as StaticString)
                piece(typeRange)
            }
            canonical.update("\nhost:" as StaticString)
            canonical.update(signedHost)
            canonical.update("\n\nhost\nUNSIGNED-PAYLOAD" as StaticString)
            let canonicalHash = canonical.finalize()

            var mac = signingKey.begin()
            mac.update("AWS4-HMAC-SHA256\n" as StaticString)
            mac.update(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: written[timestamp])))
            mac.update("\n" as StaticString)
            mac.update(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: written[dateOnly])))
            mac.update(scopeSuffix)
            mac.update("\n" as StaticString)
            var hexHash = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            withUnsafeMutableBytes(of: &hexHash) { hex in
                canonicalHash.withUnsafeBytes { _ = Hex.write($0, into: hex) }
                mac.update(UnsafeRawBufferPointer(hex))
            }
            let signature = mac.finalize()

            w.append("&X-Amz-Signature=")
            signature.withUnsafeBytes { bytes in
                w.position += Hex.write(bytes, into: UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: out[w.position...])))
            }
            return w.position
        }
    }

    private static let fixedQueryLength = 512

}

/// Lends an optional string's UTF-8 without copying it.
private func withUTF8<R>(_ string: inout String?, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
    guard string != nil else { return body(nil) }
    return string!.withUTF8 { body($0) }
}

extension ResponseOverrides {
    /// `attachment; filename="ASCII"; filename*=UTF-8''<pct-encoded>` (RFC 6266): the quoted form for old
    /// clients, with non-ASCII, `"` and `\` replaced by `_`, and the exact name in RFC 8187's encoding.
    public static func attachment(filename: String) -> ResponseOverrides {
        var ascii = ""
        ascii.unicodeScalars.append(
            contentsOf: filename.unicodeScalars.map { scalar in
                scalar.isASCII && scalar != "\"" && scalar != "\\" && scalar.value >= 0x20 && scalar.value != 0x7F ? scalar : "_"
            })
        let encoded = URIEncoding.encode(filename, keepSlash: false)
        return ResponseOverrides(contentDisposition: "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)")
    }
}
