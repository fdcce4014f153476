// vapor/jwt-kit as an independent peer for viewer tokens, as Tests/Support/pyjwt_tokens.py is for PyJWT.
//
// Input (JSON on stdin): {"hs_secret": b64url, "ed_seed": b64url, "mint": [{"alg", "kid"?, "claims"}],
// "verify": [{"alg", "token", "audience"}]}. Output: {"minted": [token...], "verified": [claims or {"error": str}]}.
// `jwtkit-mint --version` prints "jwt-kit" (the tests' check that the binary runs).
//
// The claims are declared as an app using jwt-kit would: a `JWTPayload` of jwt-kit's claim types, with `vid` and
// `aud` as multi-value claims (a string for one value, an array for several, as Usher writes them).
import Foundation
import JWTKit

struct ViewerClaims: JWTPayload {
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim?
    var iat: IssuedAtClaim?
    var aud: AudienceClaim?
    var sub: SubjectClaim?
    var jti: IDClaim?
    var vid: VideoIDsClaim?
    var own: String?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf?.verifyNotBefore()
    }
}

/// `vid`: one video id (a string) or several (an array).
struct VideoIDsClaim: JWTMultiValueClaim, Equatable {
    var value: [String]
    init(value: [String]) { self.value = value }
}

/// A claim as the test writes it: a number (NumericDate), a string or an array of strings.
enum ClaimValue: Codable {
    case number(Double)
    case string(String)
    case strings([String])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let v = try? container.decode(Double.self) {
            self = .number(v)
        } else if let v = try? container.decode(String.self) {
            self = .string(v)
        } else {
            self = .strings(try container.decode([String].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let v):
            // Whole seconds as integers, as the other peers print them.
            if let whole = Int64(exactly: v) { try container.encode(whole) } else { try container.encode(v) }
        case .string(let v): try container.encode(v)
        case .strings(let v): try container.encode(v)
        }
    }
}

struct MintSpec: Decodable {
    var alg: String
    var kid: String?
    var claims: [String: ClaimValue]
}

struct VerifySpec: Decodable {
    var alg: String
    var token: String
    var audience: String
}

struct Request: Decodable {
    var hs_secret: String
    var ed_seed: String
    var mint: [MintSpec]
    var verify: [VerifySpec]
}

struct Response: Encodable {
    var minted: [String]
    var verified: [[String: ClaimValue]]
}

struct Failure: Error, CustomStringConvertible {
    let description: String
}

extension ViewerClaims {
    init(_ claims: [String: ClaimValue]) throws {
        func date(_ name: String) throws -> Date? {
            switch claims[name] {
            case nil: return nil
            case .number(let seconds): return Date(timeIntervalSince1970: seconds)
            default: throw Failure(description: "\(name) must be a number")
            }
        }
        func string(_ name: String) throws -> String? {
            switch claims[name] {
            case nil: return nil
            case .string(let value): return value
            default: throw Failure(description: "\(name) must be a string")
            }
        }
        func strings(_ name: String) -> [String]? {
            switch claims[name] {
            case .string(let value): return [value]
            case .strings(let values): return values
            default: return nil
            }
        }
        let known: Set = ["exp", "nbf", "iat", "aud", "sub", "jti", "vid", "own"]
        if let unknown = claims.keys.first(where: { !known.contains($0) }) {
            throw Failure(description: "claim \(unknown) is not one of \(known.sorted())")
        }
        guard let exp = try date("exp") else { throw Failure(description: "exp is required") }
        self.init(exp: ExpirationClaim(value: exp))
        nbf = try date("nbf").map { NotBeforeClaim(value: $0) }
        iat = try date("iat").map { IssuedAtClaim(value: $0) }
        aud = strings("aud").map { AudienceClaim(value: $0) }
        sub = try string("sub").map { SubjectClaim(value: $0) }
        jti = try string("jti").map { IDClaim(value: $0) }
        vid = strings("vid").map { VideoIDsClaim(value: $0) }
        own = try string("own")
    }

    /// The claims jwt-kit decoded, in the test's terms.
    var dictionary: [String: ClaimValue] {
        var values: [String: ClaimValue] = ["exp": .number(exp.value.timeIntervalSince1970)]
        if let nbf { values["nbf"] = .number(nbf.value.timeIntervalSince1970) }
        if let iat { values["iat"] = .number(iat.value.timeIntervalSince1970) }
        if let aud { values["aud"] = aud.value.count == 1 ? .string(aud.value[0]) : .strings(aud.value) }
        if let sub { values["sub"] = .string(sub.value) }
        if let jti { values["jti"] = .string(jti.value) }
        if let vid { values["vid"] = vid.value.count == 1 ? .string(vid.value[0]) : .strings(vid.value) }
        if let own { values["own"] = .string(own) }
        return values
    }
}

func base64URLDecoded(_ text: String) throws -> Data {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    guard let data = Data(base64Encoded: base64) else { throw Failure(description: "bad base64url: \(text)") }
    return data
}

/// A key collection holding the key for `alg`, under `kid` when there is one: as an app signs.
/// Without a kid, the key is the collection's default, which is also what verification falls back to.
func keyCollection(for alg: String, kid: String?, request: Request) async throws -> JWTKeyCollection {
    let keys = JWTKeyCollection()
    let identifier = kid.map { JWKIdentifier(string: $0) }
    switch alg {
    case "HS256":
        await keys.add(hmac: HMACKey(from: try base64URLDecoded(request.hs_secret)), digestAlgorithm: .sha256, kid: identifier)
    case "EdDSA":
        await keys.add(eddsa: try EdDSA.PrivateKey(d: request.ed_seed, curve: .ed25519), kid: identifier)
    default:
        throw Failure(description: "unsupported alg \(alg)")
    }
    return keys
}

if CommandLine.arguments.dropFirst().first == "--version" {
    print("jwt-kit")
    exit(0)
}

do {
    let request = try JSONDecoder().decode(Request.self, from: FileHandle.standardInput.readDataToEndOfFile())
    var response = Response(minted: [], verified: [])
    for spec in request.mint {
        let keys = try await keyCollection(for: spec.alg, kid: spec.kid, request: request)
        response.minted.append(try await keys.sign(try ViewerClaims(spec.claims), kid: spec.kid.map { JWKIdentifier(string: $0) }))
    }
    for spec in request.verify {
        do {
            // The token's kid names no key of this collection: jwt-kit falls back to the default key, the alg's key.
            let keys = try await keyCollection(for: spec.alg, kid: nil, request: request)
            let claims = try await keys.verify(spec.token, as: ViewerClaims.self)
            guard let aud = claims.aud else { throw Failure(description: "aud missing") }
            try aud.verifyIntendedAudience(includes: spec.audience)
            response.verified.append(claims.dictionary)
        } catch {
            // The test reports whatever jwt-kit refused.
            response.verified.append(["error": .string("\(type(of: error)): \(error)")])
        }
    }
    FileHandle.standardOutput.write(try JSONEncoder().encode(response))
} catch {
    FileHandle.standardError.write(Data("jwtkit-mint: \(error)\n".utf8))
    exit(1)
}
