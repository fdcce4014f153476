import UsherCrypto

/// Mints viewer tokens with a key that has its private part (for `usher token mint`, apps and load tests).
public struct ViewerTokenMinter: Sendable {
    public struct Claims: Sendable {
        public var videoIDs: [String] = []
        public var owner: String?
        public var subject: String?
        public var tokenID: String?
        public var audience: String = "usher"
        public var issuedAt: Int64
        public var expiresAt: Int64

        public init(issuedAt: Int64, expiresAt: Int64) {
            self.issuedAt = issuedAt
            self.expiresAt = expiresAt
        }
    }

    public struct MintError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public let key: ViewerKey

    public init(key: ViewerKey) { self.key = key }

    /// A token for `claims`; the `vid` claim is a string for one id and an array for several.
    public func mint(_ claims: Claims) throws(MintError) -> String {
        guard !claims.videoIDs.isEmpty || claims.owner != nil else {
            throw MintError(description: "a token needs a scope: at least one --vid or --own")
        }
        var header: [(name: String, value: JSONValue)] = [("alg", .string(key.algorithm.rawValue)), ("typ", .string("JWT"))]
        if let id = key.id { header.append(("kid", .string(id))) }
        var payload: [(name: String, value: JSONValue)] = [
            ("aud", .string(claims.audience)), ("iat", .number(Double(claims.issuedAt))), ("exp", .number(Double(claims.expiresAt))),
        ]
        if let subject = claims.subject { payload.append(("sub", .string(subject))) }
        if let tokenID = claims.tokenID { payload.append(("jti", .string(tokenID))) }
        if claims.videoIDs.count == 1 {
            payload.append(("vid", .string(claims.videoIDs[0])))
        } else if !claims.videoIDs.isEmpty {
            payload.append(("vid", .array(claims.videoIDs.map { .string($0) })))
        }
        if let owner = claims.owner { payload.append(("own", .string(owner))) }

        let signingInput = Base64URL.encode(JSONValue.object(header).serialized) + "." + Base64URL.encode(JSONValue.object(payload).serialized)
        let signature: [UInt8]
        switch key.material {
        case .hmac(let hmacKey, _):
            signature = hmacKey.authenticationCode(for: signingInput).bytes
        case .ed25519(_, let privateKey):
            guard let privateKey else {
                throw MintError(description: "key \(key.id ?? "(no kid)") has no private part (\"d\"); minting needs it")
            }
            do { signature = try privateKey.signature(for: Array(signingInput.utf8)) } catch {
                throw MintError(description: "signing failed: \(error)")
            }
        }
        return signingInput + "." + Base64URL.encode(signature)
    }
}
