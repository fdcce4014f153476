public import NIOCore

/// A value that may only be touched on its event loop; Sendable because every access checks that.
public struct LoopBound<Value>: @unchecked Sendable {
    private let stored: Value
    public let eventLoop: any EventLoop

    /// May be made on any thread (unlike `NIOLoopBound`), as the per-loop caches are, before the loops run.
    public init(_ value: Value, eventLoop: any EventLoop) {
        self.stored = value
        self.eventLoop = eventLoop
    }

    public var value: Value {
        eventLoop.preconditionInEventLoop()
        return stored
    }
}
