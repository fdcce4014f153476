public import Delivery
public import NIOCore
public import NIOPosix
import Synchronization

/// The shared cache as a dictionary, for tests that need no Redis. Expiry follows the wall clock; `isAvailable`
/// false makes every call fail, as a Redis that is down does.
public final class InMemoryCache: KeyValueCache {
    private struct Entry {
        var value: [UInt8]
        var expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[[UInt8]: Entry]>([:])
    private let available = Atomic<Bool>(true)
    private let reads = Atomic<Int>(0)
    private let loop: any EventLoop

    public init(eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()) {
        self.loop = eventLoop
    }

    public var isAvailable: Bool {
        get { available.load(ordering: .relaxed) }
        set { available.store(newValue, ordering: .relaxed) }
    }

    /// GETs answered so far (available or not).
    public var readCount: Int { reads.load(ordering: .relaxed) }

    /// The value under `key` now, without counting a read.
    public func peek(_ key: String) -> [UInt8]? {
        entries.withLock { entries in
            guard let entry = entries[Array(key.utf8)], entry.expires > .now else { return nil }
            return entry.value
        }
    }

    private func answer<T: Sendable>(on loop: (any EventLoop)?, _ body: (inout [[UInt8]: Entry]) -> T) -> EventLoopFuture<T> {
        let loop = loop ?? self.loop
        guard isAvailable else { return loop.makeFailedFuture(Unavailable()) }
        return loop.makeSucceededFuture(entries.withLock { body(&$0) })
    }

    public func get(_ key: [UInt8], on loop: (any EventLoop)?) -> EventLoopFuture<[UInt8]?> {
        reads.add(1, ordering: .relaxed)
        return answer(on: loop) { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expires > .now else {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    public func set(_ key: [UInt8], _ value: [UInt8], expireSeconds: Int, onlyIfAbsent: Bool, on loop: (any EventLoop)?) -> EventLoopFuture<Void> {
        answer(on: loop) { entries in
            if onlyIfAbsent, let entry = entries[key], entry.expires > .now { return }
            entries[key] = Entry(value: value, expires: .now + .seconds(expireSeconds))
        }
    }

    public func delete(_ key: [UInt8], on loop: (any EventLoop)?) -> EventLoopFuture<Void> {
        answer(on: loop) { entries in entries[key] = nil }
    }

    public func increment(_ key: [UInt8], on loop: (any EventLoop)?) -> EventLoopFuture<Void> {
        answer(on: loop) { entries in
            let current = entries[key].flatMap { Int(String(decoding: $0.value, as: UTF8.self)) } ?? 0
            entries[key] = Entry(value: Array(String(current + 1).utf8), expires: .now + .seconds(86_400 * 365))
        }
    }

    public struct Unavailable: Error {}
}
