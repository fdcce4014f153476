/// What a fal webhook did to the row.
public enum WebhookOutcome: Sendable, Equatable {
    /// The generation is now MIRRORING with a job queued.
    case enqueued
    /// The generation is now FAILED (fal reported an error, or no video).
    case failed
    /// A duplicate (or the generation already moved on): nothing changed.
    case unchanged
}
