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
        var dots = (first: -1, second: -1)
        for i in 0..<token.count where token[i] == UInt8(ascii: ".") {
            if dots.first < 0 { dots.first = i } else if dots.second < 0 { dots.second = i } else { return .failure(.malformed) }
        }
        guard dots.second > 0 else { return .failure(.malformed) }
        let (firstDot, secondDot) = dots
        let headerPart = UnsafeRawBufferPointer(rebasing: token[..<firstDot])
        let claimsPart = UnsafeRawBufferPointer(rebasing: token[(firstDot + 1)..<secondDot])
        let signaturePart = UnsafeRawBufferPointer(rebasing: token[(secondDot + 1)...])
        guard !headerPart.isEmpty, !claimsPart.isEmpty else {
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

    /// `exp` as whole seconds, clamped: a signed token may carry any JSON number (1e300 included).
    static func unixSeconds(_ value: Double) -> Int64 {
        value >= 4e18 ? 4_000_000_000_000_000_000 : Int64(value.rounded(.down))
    }

    private struct Header {
        var algorithm: ViewerTokenAlgorithm
        var kid: String?
    }

    /// Marks a member as seen; a second sighting is a duplicate (RFC 7519 §4: reject rather than guess).
    @inline(__always)
    private static func see(_ bit: UInt32, in seen: inout UInt32) -> Bool {
        defer { seen |= bit }
        return seen & bit == 0
    }

    private func parseHeader(_ json: UnsafeRawBufferPointer) -> Result<Header, TokenRejection> {
        var parser = JSONParser(bytes: json, maximumDepth: 8)
        var algorithm: ViewerTokenAlgorithm?
        var algorithmText: String?
        var kid: String?
        var seen: UInt32 = 0
        do {
            try parser.beginObject()
            var first = true
            while let name = try parser.nextMember(first: &first) {
                if name.is("alg") {
                    guard Self.see(1, in: &seen) else { return .failure(.duplicateMember) }
                    guard parser.current == UInt8(ascii: "\"") else { return .failure(.unsupportedAlgorithm) }
                    algorithmText = try parser.parseString()
                } else if name.is("kid") {
                    guard Self.see(2, in: &seen) else { return .failure(.duplicateMember) }
                    guard parser.current == UInt8(ascii: "\"") else { return .failure(.malformed) }
                    kid = try parser.parseString()
                } else if name.is("crit") {
                    // We understand no extensions, so a critical one must be refused (RFC 7515 §4.1.11).
                    return .failure(.unsupportedAlgorithm)
                } else {
                    _ = try parser.parseValue(depth: 1)
                }
            }
            try parser.end()
        } catch {
            return .failure(error.code == .duplicateMember ? .duplicateMember : .malformed)
        }
        if let algorithmText { algorithm = ViewerTokenAlgorithm(rawValue: algorithmText) }
        guard let algorithm else { return .failure(.unsupportedAlgorithm) }
        return .success(Header(algorithm: algorithm, kid: kid))
    }

    private func checkClaims(_ json: UnsafeRawBufferPointer, now: Int64) -> Result<ViewerGrant, TokenRejection> {
        var parser = JSONParser(bytes: json, maximumDepth: 8)
        var exp: Double?
        var nbf: Double?
        var iat: Double?
        var audienceOK = true
        var subject: String?
        var tokenID: String?
        var videoIDs: [String] = []
        var owner: String?
        var seen: UInt32 = 0
        do {
            try parser.beginObject()
            var first = true
            while let name = try parser.nextMember(first: &first) {
                let timeBit: UInt32 = name.is("exp") ? 1 : name.is("nbf") ? 2 : name.is("iat") ? 4 : 0
                let stringBit: UInt32 = timeBit != 0 ? 0 : name.is("sub") ? 16 : name.is("jti") ? 32 : name.is("own") ? 64 : 0
                if timeBit != 0 {
                    guard Self.see(timeBit, in: &seen) else { return .failure(.duplicateMember) }
                    guard let c = parser.current, c == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else {
                        return .failure(.invalidClaim)
                    }
                    let seconds = try parser.parseNumber()
                    if timeBit == 1 { exp = seconds } else if timeBit == 2 { nbf = seconds } else { iat = seconds }
                } else if stringBit != 0 {
                    guard Self.see(stringBit, in: &seen) else { return .failure(.duplicateMember) }
                    guard parser.current == UInt8(ascii: "\"") else { return .failure(.invalidClaim) }
                    let value = try parser.parseString()
                    if stringBit == 16 { subject = value } else if stringBit == 32 { tokenID = value } else { owner = value }
                } else if name.is("aud") {
                    guard Self.see(8, in: &seen) else { return .failure(.duplicateMember) }
                    switch try parser.parseValue(depth: 1) {
                    case .string(let aud): audienceOK = aud == audience
                    case .array(let auds):
                        guard auds.allSatisfy({ $0.stringValue != nil }) else { return .failure(.invalidClaim) }
                        audienceOK = auds.contains(.string(audience))
                    default: return .failure(.invalidClaim)
                    }
                } else if name.is("vid") {
                    guard Self.see(128, in: &seen) else { return .failure(.duplicateMember) }
                    if parser.current == UInt8(ascii: "\"") {
                        videoIDs = [try parser.parseString()]
                    } else {
                        guard case .array(let ids) = try parser.parseValue(depth: 1) else { return .failure(.invalidClaim) }
                        videoIDs.reserveCapacity(ids.count)
                        for id in ids {
                            guard case .string(let s) = id else { return .failure(.invalidClaim) }
                            videoIDs.append(s)
                        }
                    }
                } else {
                    _ = try parser.parseValue(depth: 1)
                }
            }
            try parser.end()
        } catch {
            return .failure(error.code == .duplicateMember ? .duplicateMember : .malformed)
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
            ViewerGrant(subject: subject, tokenID: tokenID, videoIDs: videoIDs, owner: owner, expiresAt: Self.unixSeconds(exp)))
    }
}
