// The floor's request handling, shared by the `EdgeFloor` server (`Benchmarks/load/run`, case `nio-floor`) and the
// `Edge` micro-benchmark's floor case, so that both measure the same code: under load with the kernel's TCP, and
// in-process beside the edge's `/healthz` on the same `EmbeddedChannel`, where noise does not hide a microsecond.
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// nginx `return 302`'s answer to `location`, with nginx's headers (Date fixed: this measures the floor).
public func nginx302Answer(location: String) -> ByteBuffer {
    ByteBuffer(
        string: "HTTP/1.1 302 Moved Temporarily\r\nServer: nginx/1.22.1\r\nDate: Fri, 04 Dec 2026 00:00:00 GMT\r\n"
            + "Content-Type: text/html\r\nContent-Length: 145\r\nConnection: keep-alive\r\nLocation: \(location)\r\n\r\n"
            + "<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n<center><h1>302 Found</h1></center>\r\n"
            + "<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// Counts request ends across reads (a `\r\n\r\n` may straddle two) and answers each with `answer`. It parses
/// nothing, so it is not a server to use: it is what any NIO server pays per request before its own work.
public final class FloorHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let answer: ByteBuffer
    /// How many bytes of `\r\n\r\n` the previous read ended with.
    private var matched = 0
    private var pending = 0
    /// Busy-waited per request before its answer (`SPIN_NS`).
    private let spinNanoseconds: UInt64

    public init(answer: ByteBuffer, spinNanoseconds: UInt64 = 0) {
        self.answer = answer
        self.spinNanoseconds = spinNanoseconds
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { bytes in
            for byte in bytes {
                switch (matched, byte) {
                case (0, 13), (2, 13): matched += 1
                case (1, 10): matched = 2
                case (3, 10):
                    matched = 0
                    pending += 1
                case (_, 13): matched = 1
                default: matched = 0
                }
            }
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        guard pending > 0 else { return }
        if spinNanoseconds > 0 { spin(UInt64(pending) * spinNanoseconds) }
        if pending == 1 {
            context.writeAndFlush(wrapOutboundOut(answer), promise: nil)
        } else {
            var out = context.channel.allocator.buffer(capacity: answer.readableBytes * pending)
            for _ in 0..<pending { out.writeImmutableBuffer(answer) }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
        pending = 0
    }
}

/// Busy-waits on the monotonic clock: the core stays on this thread, as a server's own work would keep it.
func spin(_ nanoseconds: UInt64) {
    func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
    let end = now() + nanoseconds
    while now() < end {}
}
