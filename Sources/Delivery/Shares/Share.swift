/// A share link as the admin API shows it.
public struct Share: Sendable, Equatable {
    /// Accepted `max_uses`, for every writer (admin API, `usher share create`); absent means no limit.
    public static let maxUses = 1...1_000_000_000

    public var code: String
    public var requestID: String
    /// RFC 3339 UTC.
    public var expiresAt: String
    public var revokedAt: String?
    public var maxUses: Int?
    public var uses: Int

    public init(code: String, requestID: String, expiresAt: String, revokedAt: String?, maxUses: Int?, uses: Int) {
        self.code = code
        self.requestID = requestID
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.maxUses = maxUses
        self.uses = uses
    }
}
