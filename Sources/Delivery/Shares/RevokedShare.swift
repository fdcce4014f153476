/// A share revoked with its generation: enough to overwrite its cached record.
public struct RevokedShare: Sendable, Equatable {
    public var code: String
    public var requestID: String
    public var maxUses: Int?

    public init(code: String, requestID: String, maxUses: Int?) {
        self.code = code
        self.requestID = requestID
        self.maxUses = maxUses
    }
}
