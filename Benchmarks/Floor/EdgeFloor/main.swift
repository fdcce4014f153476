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
import FloorHandler
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
let answer = nginx302Answer(location: arguments[2])

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let channel = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(FloorHandler(answer: answer, spinNanoseconds: spinNanoseconds))
        }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
try channel.closeFuture.wait()
