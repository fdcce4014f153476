/// What a verified viewer token allows: small, so the gateway can cache it per token.
public struct ViewerGrant: Sendable, Equatable {
    /// `sub`: the viewer, for rate limits and revocation.
    public let subject: String?
    /// `jti`: the token's id, for revocation.
    public let tokenID: String?
    /// `vid`: generation ids this token opens.
    public let videoIDs: [String]
    /// `own`: an owner all of whose generations this token opens.
    public let owner: String?
    /// `exp` in Unix seconds (rounded down).
    public let expiresAt: Int64

    public init(subject: String?, tokenID: String?, videoIDs: [String], owner: String?, expiresAt: Int64) {
        self.subject = subject
        self.tokenID = tokenID
        self.videoIDs = videoIDs
        self.owner = owner
        self.expiresAt = expiresAt
    }

    /// True when the scope names the id, or the generation's owner is the token's `own`.
    public func covers(videoID: Substring, owner generationOwner: String?) -> Bool {
        if let owner, let generationOwner, owner == generationOwner { return true }
        return videoIDs.contains { $0 == videoID }
    }
}
