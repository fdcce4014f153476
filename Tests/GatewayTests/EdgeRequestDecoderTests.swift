@_spi(Fuzzing) import Gateway
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The edge's request decoder (`EdgeRequestDecoder`) through the edge's real connection handling (guard, decoder,
/// handler) on an `EmbeddedChannel`, answering from `EdgeStandIn` (`/healthz` 200, anything else 404): every way of
/// making two readers frame a request differently is refused, with its status, and the connection closes; what
/// clients do send is read as before. No stack needed.
struct EdgeRequestDecoderTests {
    /// One edge connection: bytes in as reads, answers out.
    final class Connection {
        let channel = EmbeddedChannel()
        /// Answers `/later` paths when told (`completeOne()`), as answers that wait for Redis do.
        let standIn = EdgeStandIn()
        private var output: [UInt8] = []

        init() throws {
            try standIn.install(on: channel)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        }

        deinit { _ = try? channel.finish(acceptAlreadyClosed: true) }

        /// Sends `bytes` in reads of `readSize` bytes, until the connection closes.
        func send(_ bytes: [UInt8], readSize: Int = .max) {
            var offset = 0
            while offset < bytes.count && channel.isActive {
                let end = bytes.count - offset <= readSize ? bytes.count : offset + readSize
                channel.pipeline.fireChannelRead(NIOAny(ByteBuffer(bytes: bytes[offset..<end])))
                channel.pipeline.fireChannelReadComplete()
                channel.embeddedEventLoop.run()
                offset = end
            }
            while let buffer = try? channel.readOutbound(as: ByteBuffer.self) { output += buffer.readableBytesView }
        }

        func send(_ text: String, readSize: Int = .max) { send(Array(text.utf8), readSize: readSize) }

        var text: String { String(decoding: output, as: UTF8.self) }

        /// The status of each answer, in order: status lines start the output or follow the end of an answer (a head's
        /// blank line, `ok\n`, a problem's `}`); a problem's detail may say "HTTP/1.1" too, after a space.
        var statuses: [Int] {
            let marker = Array("HTTP/1.".utf8)
            var statuses: [Int] = []
            var start = 0
            while start + 12 <= output.count {
                if output[start..<start + 7].elementsEqual(marker),
                    start == 0 || output[start - 1] == UInt8(ascii: "\n") || output[start - 1] == UInt8(ascii: "}"),
                    let status = Int(String(decoding: output[(start + 9)..<(start + 12)], as: UTF8.self))
                {
                    statuses.append(status)
                }
                start += 1
            }
            return statuses
        }

        var closed: Bool { !channel.isActive }
    }

    /// Request smuggling and other ways to read one byte stream two ways, each refused with its status, then closed.
    @Test(arguments: [
        // CL.TE and TE.CL: both framings declared. The edge takes no body at all.
        ("CL.TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED", 413),
        ("TE.CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 413),
        ("CL.TE on GET", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 413),
        // TE.TE: Transfer-Encoding obfuscated so that one reader sees it and another does not.
        ("TE with a leading space", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  chunked\r\n\r\n", 413),
        ("TE xchunked", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 413),
        ("TE chunked, identity", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 413),
        ("TE identity", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 413),
        ("TE empty", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n", 413),
        ("TE in capitals", "GET / HTTP/1.1\r\nHost: x\r\nTRANSFER-ENCODING: CHUNKED\r\n\r\n", 413),
        ("duplicate TE", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", 413),
        ("space before the colon", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400),
        ("tab before the colon", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n", 400),
        ("obs-folded TE", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", 400),
        ("TE folded into another field", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n", 400),
        ("tab-folded line", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tchunked\r\n\r\n", 400),
        ("field name with a space", "GET / HTTP/1.1\r\nHost: x\r\nTransfer Encoding: chunked\r\n\r\n", 400),
        // Content-Length: one decimal value or nothing.
        ("duplicate Content-Length, equal", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 400),
        ("duplicate Content-Length, different", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n", 400),
        ("Content-Length list", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 0\r\n\r\n", 400),
        ("Content-Length +0", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +0\r\n\r\n", 400),
        ("Content-Length 0x0", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x0\r\n\r\n", 400),
        ("Content-Length negative", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        ("Content-Length with a tab after it", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0 \t\r\n\r\n", 400),
        ("Content-Length empty", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400),
        ("Content-Length huge", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999999\r\n\r\n", 413),
        ("Content-Length 5", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 413),
        // Line ends and control characters.
        ("bare LF line ends", "GET /healthz HTTP/1.1\nHost: x\n\n", 400),
        ("a bare LF after a header", "GET /healthz HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n", 400),
        ("a bare LF ending the head", "GET /healthz HTTP/1.1\r\nHost: x\r\n\n", 400),
        ("bare CR in the request line", "GET /healthz HTTP/1.1\rHost: x\r\n\r\n", 400),
        ("bare CR in a value", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\rX-B: 2\r\n\r\n", 400),
        ("NUL in a value", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n", 400),
        ("NUL in a name", "GET /healthz HTTP/1.1\r\nHost: x\r\nX\u{0}A: 1\r\n\r\n", 400),
        ("DEL in a value", "GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: a\u{7F}\r\n\r\n", 400),
        ("an empty line first", "\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("a field without a colon", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n", 400),
        ("an empty field name", "GET /healthz HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n", 400),
        ("a tab after a Connection token", "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\t\r\n\r\n", 400),
        // Versions.
        ("HTTP/0.9", "GET /\r\n\r\n", 400),
        ("HTTP/2.0", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 400),
        ("HTTP/1.2", "GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n", 400),
        ("HTTP/1.1 with a trailing space", "GET /healthz HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
        ("HTTP/1.1 with trailing garbage", "GET /healthz HTTP/1.1x\r\nHost: x\r\n\r\n", 400),
        ("lowercase version", "GET /healthz http/1.1\r\nHost: x\r\n\r\n", 400),
        // Request targets other than origin-form, and malformed request lines.
        ("absolute-form", "GET http://evil.example/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("authority-form", "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n", 400),
        ("asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("two spaces after the method", "GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("a space in the target", "GET /health z HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("a non-ASCII target", "GET /h\u{E9} HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("not HTTP", "HELLO THERE\r\n\r\n", 400),
        // Host.
        ("duplicate Host", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("HTTP/1.1 without Host", "GET /healthz HTTP/1.1\r\nUser-Agent: x\r\n\r\n", 400),
        // Methods.
        ("POST", "POST /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        ("DELETE", "DELETE /v/abc HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        ("an unknown method", "PROPFIND /v/abc HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("a lowercase method", "get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("a method that is not a token", "GE(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ])
    func smugglingAndMalformedHeadsAreRefused(name: String, request: String, status: Int) throws {
        let connection = try Connection()
        connection.send(request)
        #expect(connection.statuses == [status], "\(name): \(connection.text.prefix(120))")
        #expect(connection.closed, "\(name): the connection closes")
        #expect(connection.text.contains("\r\nConnection: close\r\n"), "\(name)")
        if status == 405 { #expect(connection.text.contains("\r\nAllow: GET, HEAD\r\n")) }
    }

    /// The same refusals arrive whatever the reads: byte by byte, nothing is decided before it can be.
    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 413),
        ("GET /healthz HTTP/1.1\r\nHost: x\n\n", 400),
    ])
    func refusalsDoNotDependOnHowBytesArrive(request: String, status: Int) throws {
        let connection = try Connection()
        connection.send(request, readSize: 1)
        #expect(connection.statuses == [status])
        #expect(connection.closed)
    }

    /// A smuggled request behind good ones: those before it are answered, it is refused, nothing after it is read.
    @Test func aSmuggledRequestBehindGoodOnesIsRefusedAfterTheirAnswers() throws {
        let connection = try Connection()
        connection.send(
            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n\r\n"
                + "GET /healthz HTTP/1.1\r\nHost: x\r\nX: GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.statuses == [200, 413])
        #expect(connection.closed)
    }

    /// A refusal queued behind an answer that waits is written after it, even when the client sends more bytes
    /// meanwhile (the decoder reports them as data in its error state: not a reason to drop what is owed).
    @Test func aRefusalBehindAWaitingAnswerWaitsForItWhateverArrivesMeanwhile() throws {
        let connection = try Connection()
        connection.send("GET /later HTTP/1.1\r\nHost: x\r\n\r\nPOST /v/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(!connection.closed, "the answer still owed was dropped")
        #expect(connection.standIn.waiting == 1)
        connection.standIn.completeOne()
        connection.send([])
        #expect(connection.statuses == [200, 413])
        #expect(connection.closed)
    }

    @Test func pipelinedKeepAliveRequestsAreAnsweredInOrderAndTheConnectionStaysOpen() throws {
        let connection = try Connection()
        connection.send(
            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /v/abc HTTP/1.1\r\nHost: x\r\n\r\nHEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                + "OPTIONS /v/abc HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        // OPTIONS passes the decoder (EdgeService answers it: a preflight with CORS on, 405 without; the stand-in 404).
        #expect(connection.statuses == [200, 404, 200, 404, 200])
        #expect(!connection.closed)
        #expect(!connection.text.contains("Connection: close"))
        connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.statuses.count == 6, "still open for more")
    }

    @Test func connectionCloseIsHonouredAndWhatFollowsIsNotRead() throws {
        let connection = try Connection()
        connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.statuses == [200])
        #expect(connection.closed)
        #expect(connection.text.contains("\r\nConnection: close\r\n"))
    }

    @Test func http10ClosesUnlessItAsksToKeepAlive() throws {
        let plain = try Connection()
        plain.send("GET /healthz HTTP/1.0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n")
        #expect(plain.statuses == [200] && plain.text.hasPrefix("HTTP/1.0 200 OK\r\n"))
        #expect(plain.closed)

        let kept = try Connection()
        kept.send("GET /healthz HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        #expect(kept.statuses == [200] && kept.text.contains("\r\nConnection: keep-alive\r\n"))
        #expect(!kept.closed)
        kept.send("GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n")
        #expect(kept.statuses == [200, 200])
        #expect(kept.closed)
    }

    @Test func headIsAnsweredWithoutABody() throws {
        let connection = try Connection()
        connection.send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.text.hasPrefix("HTTP/1.1 200 OK\r\n") && connection.text.contains("\r\nContent-Length: 3\r\n"))
        #expect(connection.text.hasSuffix("\r\n\r\n"))
    }

    @Test func requestsSentAByteAtATimeAreRead() throws {
        let connection = try Connection()
        connection.send(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n\r\nGET /v/abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", readSize: 1)
        #expect(connection.statuses == [200, 404])
        #expect(connection.closed)
    }

    /// The handler keeps what follows a complete request in the same read and continues it with the next reads,
    /// whatever byte a read ends on (here inside the target, and between the CR and the LF).
    @Test func theStartOfARequestBehindAnotherIsContinuedByTheNextReads() throws {
        let connection = try Connection()
        connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /hea")
        #expect(connection.statuses == [200])
        connection.send("lthz HTTP/1.1\r")
        connection.send("\nHost: x\r\n\r\nGET /v/abc HTTP/1.1\r\nHo")
        #expect(connection.statuses == [200, 200])
        connection.send("st: x\r\nConnection: close\r\n\r\n")
        #expect(connection.statuses == [200, 200, 404])
        #expect(connection.closed)
    }

    @Test func headerNamesInAnyCaseAndAnEmptyBodyAreAccepted() throws {
        let connection = try Connection()
        connection.send(
            "GET /healthz HTTP/1.1\r\nhOsT: x\r\ncontent-LENGTH: 0\r\nuser-agent:wrk\r\n\r\n"
                + "GET /healthz HTTP/1.1\r\nHOST: x\r\nContent-Length: 000\r\ncOnNeCtIoN: ClOsE\r\n\r\n")
        #expect(connection.statuses == [200, 200])
        #expect(connection.closed, "Connection: ClOsE closes")
    }

    @Test func theLimitsAreThoseOfBefore() throws {
        // A URL of 8 KiB is taken; one byte more is a 414.
        let longest = try Connection()
        longest.send("GET /\(String(repeating: "a", count: EdgeRequest.maximumURILength - 1)) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(longest.statuses == [404])
        let tooLong = try Connection()
        tooLong.send("GET /\(String(repeating: "a", count: EdgeRequest.maximumURILength)) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(tooLong.statuses == [414] && tooLong.closed)
        // A URL that never ends is refused once it is over the limit, without waiting for the rest.
        let unended = try Connection()
        unended.send("GET /v/abc?pad=\(String(repeating: "p", count: 9000))", readSize: 1000)
        #expect(unended.statuses == [414] && unended.closed)

        // 100 fields are taken, 101 are a 431; so is a head over 32 KiB.
        let fields = (0..<99).map { "X-\($0): v\r\n" }.joined()
        let hundred = try Connection()
        hundred.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\(fields)\r\n")
        #expect(hundred.statuses == [200])
        let tooMany = try Connection()
        tooMany.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\(fields)X-Last: v\r\n\r\n")
        #expect(tooMany.statuses == [431] && tooMany.closed)
        let big = try Connection()
        big.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 40_000))\r\n\r\n", readSize: 4096)
        #expect(big.statuses == [431] && big.closed)
    }

    /// `Origin` matters only with CORS on: without it, it is not kept (no String made for it).
    @Test func originIsKeptOnlyWithCORS() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(EdgeRequestDecoder(configuration: GatewayConfiguration())))
        defer { _ = try? channel.finish() }
        try channel.writeInbound(ByteBuffer(string: "GET /v/abc HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\r\n"))
        let head = try #require(try channel.readInbound(as: EdgeRequestHead.self))
        #expect(!head.contains(.origin) && head.value(.origin) == nil)
    }

    /// What the handler is given: the values of the fields the edge reads, trimmed; the first of each, but the trusted
    /// proxy header's last (the hop the proxy in front appended); keep-alive as NIOHTTP1 reports it. One request is one
    /// message.
    @Test func theHeadHoldsWhatTheEdgeReads() throws {
        var configuration = GatewayConfiguration()
        configuration.trustedProxyHeader = "X-Forwarded-For"
        configuration.cors = CORSPolicy(origins: .any)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(EdgeRequestDecoder(configuration: configuration)))
        defer { _ = try? channel.finish() }
        try channel.writeInbound(
            ByteBuffer(
                string: "GET /v/abc?token=t HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nauthorization: Bearer a.b.c\r\nCOOKIE: usher_token=t\r\n"
                    + "User-Agent: \t Mozilla/5.0 (X11) \t\r\nOrigin: https://app.example\r\nx-forwarded-for: 203.0.113.7\r\n"
                    + "Authorization: Bearer second\r\nX-Forwarded-For: 10.0.0.1\r\nAccess-Control-Request-Method: GET\r\n"
                    + "Connection: keep-alive\r\nContent-Length: 0\r\n\r\n"
                    + "HEAD /healthz HTTP/1.0\r\n\r\n"))
        let head = try #require(try channel.readInbound(as: EdgeRequestHead.self))
        #expect(head.method == .GET && head.uri == "/v/abc?token=t" && head.version == .http1_1 && head.isKeepAlive)
        #expect(head.value(.authorization) == "Bearer a.b.c")
        #expect(head.value(.cookie) == "usher_token=t")
        #expect(head.value(.userAgent) == "Mozilla/5.0 (X11)")
        #expect(head.value(.origin) == "https://app.example")
        #expect(head.value(.trustedProxy) == "10.0.0.1")
        let next = try #require(try channel.readInbound(as: EdgeRequestHead.self))
        #expect(next.method == .HEAD && next.uri == "/healthz" && next.version == .http1_0 && !next.isKeepAlive)
        #expect(EdgeRequestHead.Field.allCases.allSatisfy { !next.contains($0) && next.value($0) == nil })
        #expect(try channel.readInbound(as: EdgeRequestHead.self) == nil)
    }

    /// The decoder fills its last head again for the next request only when nothing else holds it (a queued request,
    /// an answer waiting for Redis): a held head keeps its values, a released one is reused.
    @Test func aHeadIsFilledAgainOnlyWhenNothingElseHoldsIt() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(EdgeRequestDecoder(configuration: GatewayConfiguration())))
        defer { _ = try? channel.finish() }
        try channel.writeInbound(
            ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: one\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"))
        let released: ObjectIdentifier
        do {
            let first = try #require(try channel.readInbound(as: EdgeRequestHead.self))
            let second = try #require(try channel.readInbound(as: EdgeRequestHead.self))
            #expect(first !== second)
            #expect(first.uri == "/a" && first.value(.userAgent) == "one")
            #expect(second.uri == "/b" && second.value(.userAgent) == nil)
            released = ObjectIdentifier(second)
        }
        try channel.writeInbound(ByteBuffer(string: "HEAD /c HTTP/1.1\r\nHost: x\r\nUser-Agent: three\r\n\r\n"))
        let third = try #require(try channel.readInbound(as: EdgeRequestHead.self))
        #expect(ObjectIdentifier(third) == released, "a head nothing holds is filled again")
        #expect(third.method == .HEAD && third.uri == "/c" && third.value(.userAgent) == "three")
        try channel.writeInbound(ByteBuffer(string: "GET /d HTTP/1.0\r\n\r\n"))
        let fourth = try #require(try channel.readInbound(as: EdgeRequestHead.self))
        #expect(fourth !== third, "a head still held is not")
        #expect(third.uri == "/c" && third.value(.userAgent) == "three" && fourth.uri == "/d" && !fourth.isKeepAlive)
    }
}
