/// A revocation as stored: what is revoked, and until when (nil: for ever).
public struct Revocation: Sendable, Equatable {
    /// Accepted lengths of a revoked value in UTF-8 bytes, for every writer (admin API, `usher revoke`); the table's
    /// CHECK says the same.
    public static let valueBytes = 1...256

    public enum Kind: String, Sendable, CaseIterable {
        /// One token, by its `jti`.
        case tokenID = "jti"
        /// Every token of a viewer, by `sub`.
        case subject = "sub"
        /// A video, on `/v` and every share of it: a takedown.
        case requestID = "request_id"
    }

    public var kind: Kind
    public var value: String
    /// RFC 3339 UTC, or nil.
    public var until: String?
    /// Unix seconds, or nil.
    public var untilEpoch: Int64?

    public init(kind: Kind, value: String, until: String?, untilEpoch: Int64?) {
        self.kind = kind
        self.value = value
        self.until = until
        self.untilEpoch = untilEpoch
    }
}
