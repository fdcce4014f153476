@_spi(Fuzzing) import Gateway
import NIOCore
import NIOEmbedded

/// The edge's connection handling (ConnectionGuard, EdgeRequestDecoder, EdgeHandler) on an `EmbeddedChannel`, fed
/// any bytes in any slicing, with answers that wait and a peer that stops reading. Checked on every input:
/// - no crash, whatever arrives and whenever the connection closes;
/// - no answer without a complete request: answers ≤ request heads in the input (each ends in a blank line) + one
///   refusal;
/// - bounded output while the peer does not read: once the channel is not writable, what the handlers write stays
///   under `maximumWhileBlocked`, however much the client has pipelined (the input is repeated up to 64 times).
///
/// The first byte steers: bits 0–3 the read size (16…256 bytes), bits 4–5 the repetitions (1, 4, 16, 64), bit 6 a
/// peer that stops reading after the first quarter, bit 7 answers that wait (`/later`) completed every fourth read.
let maximumWhileBlocked = 128 * 1024

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEdgeConnection(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let control = data[0]
    let unit = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let repetitions = [1, 4, 16, 64][Int(control >> 4) & 3]
    var input: [UInt8] = []
    input.reserveCapacity(unit.count * repetitions)
    for _ in 0..<repetitions { input += unit }
    let readSize = (Int(control & 0x0F) + 1) * 16
    let blocks = control & 0x40 != 0
    let completesLater = control & 0x80 != 0

    let channel = EmbeddedChannel()
    let standIn = EdgeStandIn()
    try! standIn.install(on: channel)
    try! channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()

    var output: [UInt8] = []
    var writtenWhileBlocked = 0
    var blocked = false
    func drain() {
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
            output += buffer.readableBytesView
            if blocked { writtenWhileBlocked += buffer.readableBytes }
        }
    }

    var offset = 0
    var reads = 0
    while offset < input.count, channel.isActive {
        if blocks && !blocked && offset >= input.count / 4 {
            blocked = true
            channel.isWritable = false
            channel.pipeline.fireChannelWritabilityChanged()
        }
        let end = min(input.count, offset + readSize)
        channel.pipeline.fireChannelRead(NIOAny(ByteBuffer(bytes: input[offset..<end])))
        channel.pipeline.fireChannelReadComplete()
        offset = end
        reads += 1
        if completesLater && reads % 4 == 0 { standIn.completeOne() }
        channel.embeddedEventLoop.run()
        drain()
        precondition(writtenWhileBlocked <= maximumWhileBlocked, "\(writtenWhileBlocked) bytes written to a peer that does not read")
    }
    // The peer reads again: what was held is answered.
    if blocked && channel.isActive {
        blocked = false
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
    }
    for _ in 0..<2048 where standIn.waiting > 0 || channel.isActive {
        standIn.completeOne()
        channel.embeddedEventLoop.run()
        drain()
        if standIn.waiting == 0 { break }
    }

    // One Content-Length per answer (bodies never hold one; "HTTP/1." appears in a problem's detail).
    let answers = count(of: Array("\r\nContent-Length: ".utf8), in: output)
    let heads = count(of: Array("\n\r\n".utf8), in: input) + count(of: Array("\n\n".utf8), in: input)
    precondition(answers <= heads + 1, "\(answers) answers for at most \(heads) request heads")
    _ = try? channel.finish(acceptAlreadyClosed: true)
    return 0
}

func count(of needle: [UInt8], in haystack: [UInt8]) -> Int {
    guard haystack.count >= needle.count else { return 0 }
    var found = 0
    var index = 0
    while index <= haystack.count - needle.count {
        if haystack[index] == needle[0] && haystack[index..<index + needle.count].elementsEqual(needle) {
            found += 1
            index += needle.count
        } else {
            index += 1
        }
    }
    return found
}
