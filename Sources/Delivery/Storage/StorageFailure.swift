/// What a store's error means to the callers above the domain, whatever the store: the admin API answers 503 or
/// 400 from it, `usher import` reports the line, without knowing which database said no.
public protocol StorageFailure: Error {
    /// The store could not be reached or is shutting down: nothing changed, and trying again later may work.
    var isUnavailable: Bool { get }
    /// The store refused a value the caller gave as malformed (a time that is not one).
    var isInvalidInput: Bool { get }
}
