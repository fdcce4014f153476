public import NIOCore

/// The durable record of share links (Postgres's `shares` in production), as `ShareLinks` uses it.
public protocol ShareStorage: Sendable {
    /// nil when the generation does not exist (checked in the same statement as the insert).
    func create(code: String, requestID: String, ttlSeconds: Int, maxUses: Int?) async throws -> Share?

    /// nil when no share has this code; revoking twice keeps the first time.
    func revoke(code: String) async throws -> Share?

    /// The edge's read-through, with the uses so far; nil for an unknown code. Completes on `loop`.
    func record(_ code: String, on loop: any EventLoop) -> EventLoopFuture<(record: ShareRecord, uses: Int)?>

    /// Takes one use of a live share, atomically (concurrent visits of a `max_uses` share never overshoot); true
    /// when this visit got one. Completes on `loop`.
    func consume(_ code: String, on loop: any EventLoop) -> EventLoopFuture<Bool>
}
