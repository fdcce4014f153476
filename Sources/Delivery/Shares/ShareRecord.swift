/// The few fields `/s/{code}` reads per visit; cached in Redis.
public struct ShareRecord: Sendable, Equatable {
    public var requestID: String
    /// Unix seconds.
    public var expiresAt: Int64
    public var revoked: Bool
    /// nil: unlimited (visits are then not counted in the database).
    public var maxUses: Int?

    public init(requestID: String, expiresAt: Int64, revoked: Bool, maxUses: Int?) {
        self.requestID = requestID
        self.expiresAt = expiresAt
        self.revoked = revoked
        self.maxUses = maxUses
    }
}
