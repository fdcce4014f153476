public import UsherCrypto

/// One signing key of a viewer-token JWKS.
public struct ViewerKey: Sendable {
    public enum Material: Sendable {
        /// `kty: oct`, for HS256. `secret` is kept so `usher token mint` can sign with it.
        case hmac(HMACSHA256Key, secret: [UInt8])
        /// `kty: OKP`, `crv: Ed25519`, for EdDSA; the private part (`d`) is present only in minting files.
        case ed25519(Ed25519PublicKey, privateKey: Ed25519PrivateKey?)
    }

    public let id: String?
    public let material: Material

    public var algorithm: ViewerTokenAlgorithm {
        switch material {
        case .hmac: .hs256
        case .ed25519: .edDSA
        }
    }

    public init(id: String?, material: Material) {
        self.id = id
        self.material = material
    }
}

public enum ViewerTokenAlgorithm: String, Sendable {
    case hs256 = "HS256"
    case edDSA = "EdDSA"
}

/// Why a key file was refused. `message` names the key (by `kid`) and never contains key material.
public struct KeySetError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The live viewer-token keys (`USHER_TOKEN_KEYS`): several may be live at once, so keys can rotate.
public struct ViewerKeySet: Sendable {
    public let keys: [ViewerKey]

    /// HS256 secrets shorter than the hash output are refused (RFC 7518 §3.2).
    public static let minimumHMACKeyBytes = 32

    public init(keys: [ViewerKey]) {
        self.keys = keys
    }

    /// Parses a JWKS document (`{"keys": [...]}`). Refuses the whole file on any bad key, naming it, so a typo
    /// never silently drops a key that tokens rely on.
    public init(jwks bytes: [UInt8]) throws(KeySetError) {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw KeySetError(message: "key file is not valid JSON: \(error)")
        }
        guard case .array(let entries)? = document["keys"] else {
            throw KeySetError(message: "key file must be a JWKS object with a \"keys\" array")
        }
        var keys: [ViewerKey] = []
        for (index, entry) in entries.enumerated() {
            let kid = entry["kid"]?.stringValue
            let name = kid.map { "key \"\($0)\"" } ?? "key #\(index + 1) (no kid)"
            let key = try Self.parseKey(entry, kid: kid, name: name)
            if let kid, keys.contains(where: { $0.id == kid }) {
                throw KeySetError(message: "\(name) appears twice in the key file")
            }
            keys.append(key)
        }
        guard !keys.isEmpty else { throw KeySetError(message: "key file holds no keys") }
        self.keys = keys
    }

    private static func parseKey(_ entry: JSONValue, kid: String?, name: String) throws(KeySetError) -> ViewerKey {
        guard case .object = entry else { throw KeySetError(message: "\(name) is not a JSON object") }
        if let kidValue = entry["kid"], kidValue.stringValue == nil { throw KeySetError(message: "\(name): kid must be a string") }
        if let use = entry["use"], use.stringValue != "sig" { throw KeySetError(message: "\(name): \"use\" must be \"sig\"") }
        let alg = entry["alg"]?.stringValue
        func bytes(_ member: String) throws(KeySetError) -> [UInt8]? {
            guard let value = entry[member] else { return nil }
            guard let text = value.stringValue, let decoded = Base64URL.decode(text, allowPadding: true) else {
                throw KeySetError(message: "\(name): \"\(member)\" is not base64url")
            }
            return decoded
        }
        switch entry["kty"]?.stringValue {
        case "oct":
            if let alg, alg != "HS256" { throw KeySetError(message: "\(name): alg \(alg) is not supported for oct keys (HS256 only)") }
            guard let secret = try bytes("k") else { throw KeySetError(message: "\(name): oct key has no \"k\"") }
            guard secret.count >= minimumHMACKeyBytes else {
                throw KeySetError(
                    message: "\(name): HS256 key is \(secret.count) bytes; at least \(minimumHMACKeyBytes) are required (RFC 7518 §3.2)")
            }
            return ViewerKey(id: kid, material: .hmac(HMACSHA256Key(secret), secret: secret))
        case "OKP":
            if let alg, alg != "EdDSA" && alg != "Ed25519" {
                throw KeySetError(message: "\(name): alg \(alg) is not supported for OKP keys (EdDSA only)")
            }
            guard entry["crv"]?.stringValue == "Ed25519" else { throw KeySetError(message: "\(name): only crv Ed25519 is supported") }
            guard let x = try bytes("x") else { throw KeySetError(message: "\(name): OKP key has no \"x\"") }
            let publicKey: Ed25519PublicKey
            do { publicKey = try Ed25519PublicKey(rawRepresentation: x) } catch {
                throw KeySetError(message: "\(name): \"x\" is not a 32-byte Ed25519 public key")
            }
            var privateKey: Ed25519PrivateKey?
            if let d = try bytes("d") {
                do { privateKey = try Ed25519PrivateKey(seed: d) } catch {
                    throw KeySetError(message: "\(name): \"d\" is not a 32-byte Ed25519 private key")
                }
                guard privateKey!.publicKey.rawRepresentation == x else {
                    throw KeySetError(message: "\(name): \"d\" does not match \"x\"")
                }
            }
            return ViewerKey(id: kid, material: .ed25519(publicKey, privateKey: privateKey))
        case let other?:
            throw KeySetError(message: "\(name): key type \(other) is not supported (oct for HS256, OKP for EdDSA)")
        case nil:
            throw KeySetError(message: "\(name): missing \"kty\"")
        }
    }

    /// The key a token names, or the only key of its algorithm when it names none.
    func select(kid: String?, algorithm: ViewerTokenAlgorithm) -> Result<ViewerKey, TokenRejection> {
        if let kid {
            guard let key = keys.first(where: { $0.id == kid }) else { return .failure(.unknownKey) }
            guard key.algorithm == algorithm else { return .failure(.algorithmMismatch) }
            return .success(key)
        }
        var found: ViewerKey?
        for key in keys where key.algorithm == algorithm {
            if found != nil { return .failure(.ambiguousKey) }
            found = key
        }
        return found.map { .success($0) } ?? .failure(.unknownKey)
    }
}
