/// Why a viewer token was refused. The code is stable and short enough for a metric label; no variant carries
/// any part of the token.
public struct TokenRejection: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String

    private init(_ code: String) { self.code = code }

    public var description: String { code }

    /// Longer than 4,096 bytes.
    public static let tooLong = TokenRejection("token_too_long")
    /// Not three base64url segments, or a header or claims set that is not a JSON object.
    public static let malformed = TokenRejection("malformed")
    /// A member appears twice in the header or the claims.
    public static let duplicateMember = TokenRejection("duplicate_member")
    /// `alg` is `none` or anything but HS256 and EdDSA, or the header has `crit`.
    public static let unsupportedAlgorithm = TokenRejection("unsupported_alg")
    /// `kid` names a key of the other type (e.g. an HS256 token under an Ed25519 key's id).
    public static let algorithmMismatch = TokenRejection("alg_key_mismatch")
    /// No key with that `kid`, or no key at all for the algorithm.
    public static let unknownKey = TokenRejection("unknown_kid")
    /// No `kid`, and more than one key fits the algorithm.
    public static let ambiguousKey = TokenRejection("ambiguous_key")
    public static let badSignature = TokenRejection("bad_signature")
    public static let missingExpiry = TokenRejection("missing_exp")
    public static let expired = TokenRejection("expired")
    /// `nbf` (or `iat`) lies in the future beyond the leeway.
    public static let notYetValid = TokenRejection("not_yet_valid")
    public static let wrongAudience = TokenRejection("wrong_audience")
    /// Neither `vid` nor `own`.
    public static let noScope = TokenRejection("no_scope")
    /// A registered or scope claim of the wrong JSON type.
    public static let invalidClaim = TokenRejection("invalid_claim")
    /// Refused by an operator: revoked `jti` or `sub`.
    public static let revoked = TokenRejection("revoked")
}
