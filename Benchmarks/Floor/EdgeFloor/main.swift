// The floor of an HTTP server on SwiftNIO on this machine, for `Benchmarks/load/run` (case `nio-floor`): one event
// loop, no HTTP decoder, no per-request state. It finds each request's end (`\r\n\r\n`) and answers it with one
// pre-built 302, all answers of a read in one write. It parses nothing, so it is not a server to use: it is what
// any NIO server pays per request before its own work (the kernel's TCP, epoll, NIO's channel pipeline), measured
// in the same run as nginx and Usher so that Usher's `/healthz` can be set against both.
//
//   EdgeFloor PORT LOCATION [SPIN_NS]   listens on 127.0.0.1:PORT, answers every request `302` to LOCATION
//
// SPIN_NS (default 0) busy-waits that many nanoseconds per request before answering: a stand-in for a server's own
// work, so that the floor can be run at another server's CPU cost per request (how a tail's shape depends on that
// cost alone, with no other difference: Benchmarks/load/results/issue-17.md, Where the tail comes from).
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count == 3 || arguments.count == 4, let port = Int(arguments[1]),
    let spinNanoseconds = arguments.count == 4 ? UInt64(arguments[3]) : 0
else {
    print("usage: EdgeFloor PORT LOCATION [SPIN_NS]")
    exit(2)
}
// nginx `return 302`'s answer, with the same headers as nginx's (Date fixed: this measures the floor).
let answer = ByteBuffer(
    string: "HTTP/1.1 302 Moved Temporarily\r\nServer: nginx/1.22.1\r\nDate: Fri, 04 Dec 2026 00:00:00 GMT\r\n"
        + "Content-Type: text/html\r\nContent-Length: 145\r\nConnection: keep-alive\r\nLocation: \(arguments[2])\r\n\r\n"
        + "<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n<center><h1>302 Found</h1></center>\r\n"
        + "<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
)

/// Counts request ends across reads (a `\r\n\r\n` may straddle two) and answers each with `answer`.
final class FloorHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How many bytes of `\r\n\r\n` the previous read ended with.
    private var matched = 0
    private var pending = 0
    /// Busy-waited per request before its answer (`SPIN_NS`).
    private let spinNanoseconds: UInt64

    init(spinNanoseconds: UInt64) {
        self.spinNanoseconds = spinNanoseconds
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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

    func channelReadComplete(context: ChannelHandlerContext) {
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

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let channel = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(FloorHandler(spinNanoseconds: spinNanoseconds)) }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
try channel.closeFuture.wait()
