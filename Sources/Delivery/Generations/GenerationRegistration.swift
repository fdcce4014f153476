/// What registering a generation did.
public enum GenerationRegistration: Sendable, Equatable {
    case created(Generation)
    /// The same registration again: nothing changed.
    case unchanged(Generation)
    /// A different registration already holds the id.
    case conflict(Generation)
}
