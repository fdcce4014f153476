import UsherCrypto

/// Verifies viewer tokens (compact JWS, HS256 or EdDSA) per CONTRACT § Viewer tokens.
///
/// Order: size, shape, header, key selection, signature, and only then the claims, so a forged token costs one
/// MAC or signature check and no claim parsing. Decoding happens in stack buffers; the only allocations are
/// the parsed header and claims.
public struct ViewerTokenVerifier: Sendable {
    public static let maximumTokenBytes = 4096

    public var keySet: ViewerKeySet
    /// Required in `aud` when the token has one. Default `usher`.
    public var audience: String
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. Default 30.
    public var leeway: Int64

    public init(keySet: ViewerKeySet, audience: String = "usher", leeway: Int64 = 30) {
        self.keySet = keySet
        self.audience = audience
        self.leeway = leeway
    }

    public func verify(_ token: String, now: Int64) -> Result<ViewerGrant, TokenRejection> {
        var token = token
        return token.withUTF8 { verify(UnsafeRawBufferPointer($0), now: now) }
    }

    public func verify(_ token: UnsafeRawBufferPointer, now: Int64) -> Result<ViewerGrant, TokenRejection> {
        guard token.count <= Self.maximumTokenBytes else { return .failure(.tooLong) }
        guard let firstDot = token.firstIndex(of: UInt8(ascii: ".")) else { return .failure(.malformed) }
        guard let secondDot = token[(firstDot + 1)...].firstIndex(of: UInt8(ascii: ".")) else { return .failure(.malformed) }
        let headerPart = UnsafeRawBufferPointer(rebasing: token[..<firstDot])
        let claimsPart = UnsafeRawBufferPointer(rebasing: token[(firstDot + 1)..<secondDot])
        let signaturePart = UnsafeRawBufferPointer(rebasing: token[(secondDot + 1)...])
        guard !headerPart.isEmpty, !claimsPart.isEmpty, !signaturePart.contains(UInt8(ascii: ".")) else {
            return .failure(.malformed)
        }
        let signingInput = UnsafeRawBufferPointer(rebasing: token[..<secondDot])

        return withUnsafeTemporaryAllocation(byteCount: Base64URL.maximumDecodedCount(token.count), alignment: 8) { scratch in
            // Header → key.
            guard let headerCount = Base64URL.decode(headerPart, into: scratch) else { return .failure(.malformed) }
            let key: ViewerKey
            switch parseHeader(UnsafeRawBufferPointer(rebasing: scratch[..<headerCount])) {
            case .success(let header):
                switch keySet.select(kid: header.kid, algorithm: header.algorithm) {
                case .success(let selected): key = selected
                case .failure(let rejection): return .failure(rejection)
                }
            case .failure(let rejection): return .failure(rejection)
            }

            // Signature over `header.claims`, as transmitted.
            guard let signatureCount = Base64URL.decode(signaturePart, into: scratch) else { return .failure(.malformed) }
            let signature = UnsafeRawBufferPointer(rebasing: scratch[..<signatureCount])
            switch key.material {
            case .hmac(let hmacKey, _):
                let expected = hmacKey.authenticationCode(for: signingInput)
                let valid = expected.withUnsafeBytes { ConstantTime.equals($0, signature) }
                guard valid else { return .failure(.badSignature) }
            case .ed25519(let publicKey, _):
                guard publicKey.isValidSignature(signature, for: signingInput) else { return .failure(.badSignature) }
            }

            // Claims.
            guard let claimsCount = Base64URL.decode(claimsPart, into: scratch) else { return .failure(.malformed) }
            return checkClaims(UnsafeRawBufferPointer(rebasing: scratch[..<claimsCount]), now: now)
        }
    }

    private struct Header {
        var algorithm: ViewerTokenAlgorithm
        var kid: String?
    }

    private func parseHeader(_ json: UnsafeRawBufferPointer) -> Result<Header, TokenRejection> {
        let header: JSONValue
        switch parseObject(json) {
        case .success(let value): header = value
        case .failure(let rejection): return .failure(rejection)
        }
        guard case .object(let members) = header else { return .failure(.malformed) }
        var algorithm: ViewerTokenAlgorithm?
        var kid: String?
        for (name, value) in members {
            switch name {
            case "alg":
                guard case .string(let alg) = value, let known = ViewerTokenAlgorithm(rawValue: alg) else {
                    return .failure(.unsupportedAlgorithm)
                }
                algorithm = known
            case "kid":
                guard case .string(let id) = value else { return .failure(.malformed) }
                kid = id
            case "crit":
                // We understand no extensions, so a critical one must be refused (RFC 7515 §4.1.11).
                return .failure(.unsupportedAlgorithm)
            default:
                break
            }
        }
        guard let algorithm else { return .failure(.unsupportedAlgorithm) }
        return .success(Header(algorithm: algorithm, kid: kid))
    }

    private func parseObject(_ json: UnsafeRawBufferPointer) -> Result<JSONValue, TokenRejection> {
        do {
            let value = try JSONValue.parse(json, maximumDepth: 8)
            guard case .object = value else { return .failure(.malformed) }
            return .success(value)
        } catch {
            return .failure(error.reason.hasPrefix("duplicate member") ? .duplicateMember : .malformed)
        }
    }

    private func checkClaims(_ json: UnsafeRawBufferPointer, now: Int64) -> Result<ViewerGrant, TokenRejection> {
        let claims: [(name: String, value: JSONValue)]
        switch parseObject(json) {
        case .success(.object(let members)): claims = members
        case .success: return .failure(.malformed)
        case .failure(let rejection): return .failure(rejection)
        }
        var exp: Double?
        var nbf: Double?
        var iat: Double?
        var audienceOK = true
        var subject: String?
        var tokenID: String?
        var videoIDs: [String] = []
        var owner: String?
        for (name, value) in claims {
            switch name {
            case "exp", "nbf", "iat":
                guard case .number(let seconds) = value else { return .failure(.invalidClaim) }
                if name == "exp" { exp = seconds } else if name == "nbf" { nbf = seconds } else { iat = seconds }
            case "aud":
                switch value {
                case .string(let aud): audienceOK = aud == audience
                case .array(let auds):
                    guard auds.allSatisfy({ $0.stringValue != nil }) else { return .failure(.invalidClaim) }
                    audienceOK = auds.contains(.string(audience))
                default: return .failure(.invalidClaim)
                }
            case "sub":
                guard case .string(let s) = value else { return .failure(.invalidClaim) }
                subject = s
            case "jti":
                guard case .string(let s) = value else { return .failure(.invalidClaim) }
                tokenID = s
            case "vid":
                switch value {
                case .string(let id): videoIDs = [id]
                case .array(let ids):
                    videoIDs.reserveCapacity(ids.count)
                    for id in ids {
                        guard case .string(let s) = id else { return .failure(.invalidClaim) }
                        videoIDs.append(s)
                    }
                default: return .failure(.invalidClaim)
                }
            case "own":
                guard case .string(let s) = value else { return .failure(.invalidClaim) }
                owner = s
            default:
                break
            }
        }
        guard let exp else { return .failure(.missingExpiry) }
        let current = Double(now)
        let leeway = Double(self.leeway)
        guard current < exp + leeway else { return .failure(.expired) }
        if let nbf, current + leeway < nbf { return .failure(.notYetValid) }
        if let iat, current + leeway < iat { return .failure(.notYetValid) }
        guard audienceOK else { return .failure(.wrongAudience) }
        guard !videoIDs.isEmpty || owner != nil else { return .failure(.noScope) }
        return .success(
            ViewerGrant(subject: subject, tokenID: tokenID, videoIDs: videoIDs, owner: owner, expiresAt: Int64(exp.rounded(.down))))
    }
}
