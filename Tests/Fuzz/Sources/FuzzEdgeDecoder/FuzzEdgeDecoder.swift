@_spi(Fuzzing) import Gateway
import NIOCore
import NIOEmbedded
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The edge's request decoder against NIOHTTP1's (llhttp), on the same bytes in the same reads. Checked on every
/// input:
/// - every request the edge's decoder accepts, NIOHTTP1 accepts too, as a request without a body, with the same
///   method, URI, version and keep-alive, and the same value of every header the edge reads (the first occurrence,
///   the trusted proxy header's last);
/// - the edge's decoder gives the same requests and the same refusal however the bytes are split into reads.
///
/// NIOHTTP1 refusing what the edge's decoder accepts is a finding; the reverse is by design (stricter rules, README §
/// The edge's request decoder). Values are compared with llhttp's trailing whitespace removed (RFC 9110 §5.5). After a request llhttp treats as an upgrade (`Upgrade` with a `Connection: upgrade`
/// token), NIOHTTP1 stops parsing, so nothing after it is compared.
///
/// The first byte steers: bits 0–2 the read size (1 byte … all at once), bit 3 small limits (256-byte heads, 8 fields),
/// so the limits are reached within libFuzzer's input sizes.
let keptHeaders: [(name: String, field: EdgeRequestHead.Field)] = [
    ("authorization", .authorization), ("cookie", .cookie), ("user-agent", .userAgent), ("origin", .origin), ("x-forwarded-for", .trustedProxy),
]

/// Counts for the summary printed at exit: requests both decoders read (and compared), and requests NIOHTTP1 read that
/// the edge's decoder refused (by design; the rate shows the fuzzer is not only feeding garbage).
nonisolated(unsafe) var compared = 0
nonisolated(unsafe) var refusedByEdgeOnly = 0
nonisolated(unsafe) var summaryRegistered = false

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEdgeDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    if !summaryRegistered {
        summaryRegistered = true
        atexit {
            let line = Array("FuzzEdgeDecoder: \(compared) requests read alike by both decoders; \(refusedByEdgeOnly) read by NIOHTTP1 only\n".utf8)
            _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
    }
    let control = data[0]
    let input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let readSize = [1, 2, 7, 16, 61, 256, 1024, Int.max][Int(control & 7)]
    var configuration = GatewayConfiguration()
    configuration.trustedProxyHeader = "X-Forwarded-For"
    // CORS on, so that `Origin` is kept (and compared) too.
    configuration.cors = CORSPolicy(origins: .any)
    if control & 8 != 0 {
        configuration.maximumHeadBytes = 256
        configuration.maximumHeaderCount = 8
    }

    let edge = decodeEdge(input, readSize: readSize, configuration: configuration)
    let whole = decodeEdge(input, readSize: Int.max, configuration: configuration)
    check(edge.summary == whole.summary, "split into reads of \(readSize): \(edge.summary) ≠ at once: \(whole.summary)")

    var limits = NIOHTTPDecoderLimitConfiguration()
    limits.maxHeaderFieldSize = configuration.maximumHeadBytes
    limits.maxHeaderListSize = configuration.maximumHeadBytes
    limits.maxHeaderFieldCount = configuration.maximumHeaderCount
    let reference = decode(input, readSize: readSize, HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: limits))

    for (index, request) in edge.requests.enumerated() {
        guard index < reference.requests.count else {
            fail("request \(index) accepted, NIOHTTP1 refused it (\(reference.error.map { "\($0)" } ?? "no error")): \(request)")
        }
        let other = reference.requests[index]
        check(other.ended && other.body == 0, "request \(index): NIOHTTP1 read a body or no end: \(other.head)")
        check(request.method == other.head.method, "request \(index): method \(request.method) ≠ \(other.head.method)")
        check(request.uri == other.head.uri, "request \(index): URI \(request.uri.debugDescription) ≠ \(other.head.uri.debugDescription)")
        check(request.version == other.head.version, "request \(index): version \(request.version) ≠ \(other.head.version)")
        check(
            request.isKeepAlive == other.head.isKeepAlive,
            "request \(index): keep-alive \(request.isKeepAlive) ≠ \(other.head.isKeepAlive): \(other.head.headers)")
        for (name, field) in keptHeaders {
            let values = other.head.headers[name]
            let expected = (field == .trustedProxy ? values.last : values.first).map(trimmingTrailingWhitespace)
            check(request.value(field) == expected, "request \(index): \(name) \(request.value(field) ?? "-") ≠ \(expected ?? "-")")
        }
        compared += 1
        if isUpgrade(other.head) { return 0 }
    }
    refusedByEdgeOnly += reference.requests.filter { $0.ended }.count - edge.requests.count
    return 0
}

/// llhttp keeps a value's trailing spaces and tabs; RFC 9110 §5.5 excludes them from the value, and so does the edge.
func trimmingTrailingWhitespace(_ value: String) -> String {
    var utf8 = Substring(value).utf8
    while let last = utf8.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { utf8.removeLast() }
    return String(Substring(utf8))
}

/// `precondition`, with the message printed in release builds too (libFuzzer keeps the input; this says why).
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

func fail(_ message: String) -> Never {
    let line = Array("FuzzEdgeDecoder: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

/// What NIOHTTP1 made of the input: requests (head, body bytes, whether `.end` came) and the error that stopped it.
struct Decoded {
    var requests: [(head: HTTPRequestHead, body: Int, ended: Bool)] = []
    var error: (any Error)?
}

/// What the edge's decoder made of the input: one message per request, and the error that stopped it.
struct EdgeDecoded {
    var requests: [EdgeRequestHead] = []
    var error: (any Error)?

    var summary: String {
        let heads = requests.map { head in
            "\(head.method) \(head.uri) \(head.version) \(head.isKeepAlive) \(EdgeRequestHead.Field.allCases.map { head.value($0) ?? "-" })"
        }
        return "\(heads) \((error as? EdgeRequestError)?.code.description ?? error.map { "\($0)" } ?? "-")"
    }
}

/// Feeds `input` to a channel holding `decoder`, in reads of `readSize`, taking what it decoded after each read with
/// `take`; returns the error that stopped it (nothing after it is fed).
func feed(_ input: [UInt8], readSize: Int, to decoder: some ByteToMessageDecoder, take: (EmbeddedChannel) -> Void) -> (any Error)? {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(decoder))
    defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
    var offset = 0
    while offset < input.count {
        let end = input.count - offset <= readSize ? input.count : offset + readSize
        var failure: (any Error)?
        do {
            try channel.writeInbound(ByteBuffer(bytes: input[offset..<end]))
        } catch {
            failure = error
        }
        offset = end
        take(channel)
        if let failure { return failure }
    }
    return nil
}

func decodeEdge(_ input: [UInt8], readSize: Int, configuration: GatewayConfiguration) -> EdgeDecoded {
    var decoded = EdgeDecoded()
    decoded.error = feed(input, readSize: readSize, to: EdgeRequestDecoder(configuration: configuration)) { channel in
        while let head = try? channel.readInbound(as: EdgeRequestHead.self) { decoded.requests.append(head) }
    }
    return decoded
}

func decode(_ input: [UInt8], readSize: Int, _ decoder: HTTPRequestDecoder) -> Decoded {
    var decoded = Decoded()
    decoded.error = feed(input, readSize: readSize, to: decoder) { channel in
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head): decoded.requests.append((head, 0, false))
            case .body(let bytes): decoded.requests[decoded.requests.count - 1].body += bytes.readableBytes
            case .end: decoded.requests[decoded.requests.count - 1].ended = true
            }
        }
    }
    return decoded
}

/// llhttp's upgrade: an `Upgrade` field and a `Connection` token `upgrade` (CONNECT too, which the edge refuses).
func isUpgrade(_ head: HTTPRequestHead) -> Bool {
    head.method == .CONNECT
        || head.headers.contains(name: "upgrade")
            && head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
}
