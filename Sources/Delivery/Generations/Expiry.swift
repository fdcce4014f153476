/// When retention deletes a generation being registered.
public enum Expiry: Sendable, Equatable {
    /// Kept until deleted on request.
    case never
    /// At this RFC 3339 time (`expires_at` given); the store refuses a malformed one as invalid input.
    case at(String)
    /// This many days after registration (`USHER_RETENTION_DAYS`).
    case afterDays(Int)
}
