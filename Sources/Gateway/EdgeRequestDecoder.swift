public import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The edge listener's request decoder, in place of NIOHTTP1's `HTTPRequestDecoder`: NIOHTTP1's general parser was
/// about a third of the edge's floor (NIO answering a fixed 302 measured 11–13 µs of CPU per request without it,
/// 18–20 with it), and the edge needs little of it: GET, HEAD and OPTIONS without a body, four routes, and the values
/// of a few headers (README § The edge's request decoder).
///
/// What `EdgeHandler`, which runs it on the bytes as they arrive (`next(_:)`), may rely on:
/// - every request it is given was a complete, well-formed HTTP/1.0 or 1.1 head in origin-form, with CRLF line ends,
///   no obs-fold, token method and field names, no control characters, at most one `Host` (one, on HTTP/1.1), no
///   body (`Content-Length` absent or 0, no `Transfer-Encoding`), a URL of at most `EdgeRequest.maximumURILength`
///   bytes and a head within the configured limits; anything else is refused (`EdgeRequestError`) and nothing after it
///   is decoded, so no two readers of the same bytes can frame a request differently;
/// - it arrives as one `EdgeRequestHead`, which holds only what the edge reads: `Authorization`, `Cookie`,
///   `User-Agent` and `Origin` (each its first occurrence) and the trusted proxy header (its last), values trimmed;
/// - `EdgeRequestHead.isKeepAlive` says what NIOHTTP1's would (llhttp's rule: HTTP/1.1 unless a `Connection` token
///   `close`, HTTP/1.0 only with a token `keep-alive`);
/// - after a request that is not kept alive, the rest of the connection's bytes are dropped.
///
/// Pipelined requests in one read decode in order; a partial head waits for more bytes, scanned once (a head sent a
/// byte at a time costs what it costs at once), and held whole until it ends: at most `maximumHeadBytes`, and
/// `ConnectionGuard` bounds how long. The first line of an unended head is judged as soon as it is longer than any
/// accepted one could be (414 for a long URL), so an oversized URL is refused without reading the rest.
@_spi(Fuzzing)
public struct EdgeRequestDecoder: ByteToMessageDecoder {
    public typealias InboundOut = EdgeRequestHead

    private let maximumHeadBytes: Int
    /// `Origin` is read only for CORS: without it, a String per cross-origin request is not made.
    private let keepsOrigin: Bool
    private let maximumHeaderCount: Int
    /// `GatewayConfiguration.trustedProxyHeader`, lowercased, to match field names against.
    private let trustedHeader: [UInt8]?

    /// How far the current head has been searched for line ends, and where its current line starts: offsets from the
    /// reader index, which moves only once a head is complete.
    private var scanned = 0
    private var lineStart = 0
    /// The current head, once its request line was read.
    private var head: Head?
    /// A request asked to close the connection: nothing after it is decoded.
    private var ended = false
    /// The last request passed on: filled again for the next one if the handler let go of it (`EdgeRequestHead`).
    private var lastHead: EdgeRequestHead?

    /// A method token is at most this long (the longest NIOHTTP1 knows, `UNSUBSCRIBE`, has 11 bytes).
    static let maximumMethodLength = 24

    public init(configuration: GatewayConfiguration) {
        keepsOrigin = configuration.cors != nil
        maximumHeadBytes = configuration.maximumHeadBytes
        maximumHeaderCount = configuration.maximumHeaderCount
        trustedHeader = configuration.trustedProxyHeader.map { name in
            name.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
        }
    }

    /// What the request line and the fields read so far say.
    private struct Head {
        var method: HTTPMethod
        /// A method the edge does not take: refused once the head is complete, after a declared body (413 first).
        var methodRefusal: EdgeRequestError?
        var uri: String
        var version: HTTPVersion
        var fields = EdgeRequestHead.Fields()
        var fieldCount = 0
        var hosts = 0
        var contentLengths = 0
        var declaresBody = false
        var closeToken = false
        var keepAliveToken = false

        /// llhttp's rule, which NIOHTTP1 reports.
        var isKeepAlive: Bool { version.minor >= 1 ? !closeToken : keepAliveToken }
    }

    /// The next complete request at the front of `buffer`, which is moved past it; nil while its head has not ended
    /// (what arrived is scanned and stays in `buffer`), and for every byte after a request that closes the
    /// connection (they are dropped). `EdgeHandler` calls this on each read; after a throw nothing more is decoded.
    public mutating func next(_ buffer: inout ByteBuffer) throws(EdgeRequestError) -> EdgeRequestHead? {
        guard !ended else {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return nil
        }
        // `withUnsafeReadableBytes` rethrows untyped: the refusal is carried out of it to keep this typed.
        var refusal: EdgeRequestError?
        let scanned = buffer.withUnsafeReadableBytes { bytes -> Int? in
            do throws(EdgeRequestError) { return try self.scan(bytes) } catch {
                refusal = error
                return nil
            }
        }
        if let refusal { throw refusal }
        guard let length = scanned, self.head != nil else { return nil }
        // Moved out rather than copied: a copy retains each of its references once more.
        let head = self.head.take()!
        self.scanned = 0
        lineStart = 0
        // A slice: the head's fields are read from the bytes as they arrived, without a copy.
        let bytes = buffer.readSlice(length: length)!

        if head.version.minor >= 1 && head.hosts == 0 { throw EdgeRequestError(.malformed, "an HTTP/1.1 request without Host") }
        if head.declaresBody { throw EdgeRequestError(.bodyNotAllowed, "a request that declares a body") }
        if let refusal = head.methodRefusal { throw refusal }
        if !head.isKeepAlive {
            ended = true
            buffer.moveReaderIndex(to: buffer.writerIndex)
        }
        return EdgeRequestHead.recycled(
            &lastHead, method: head.method, version: head.version, isKeepAlive: head.isKeepAlive, uri: head.uri, bytes: bytes, fields: head.fields)
    }

    /// As a `ByteToMessageDecoder` (the decoder's tests and the differential fuzzer drive it through NIO's
    /// `ByteToMessageHandler`, as NIOHTTP1's decoder is driven): the same `next`, one request per message.
    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let request = try next(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(request))
        return ended ? .needMoreData : .continue
    }

    /// At the end of the connection: complete requests still decode; a partial one is dropped.
    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        if try decode(context: context, buffer: &buffer) == .continue { return .continue }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    /// Reads the lines of the head that have arrived since the last call; the head's length once it is complete.
    private mutating func scan(_ bytes: UnsafeRawBufferPointer) throws(EdgeRequestError) -> Int? {
        // A complete head ends within the limit: nothing beyond it needs looking at.
        let end = min(bytes.count, maximumHeadBytes)
        while scanned < end, let base = bytes.baseAddress {
            guard let found = memchr(base + scanned, Int32(UInt8(ascii: "\n")), end - scanned) else {
                scanned = end
                break
            }
            let newline = base.distance(to: found)
            scanned = newline + 1
            guard newline > lineStart, bytes[newline - 1] == UInt8(ascii: "\r") else {
                throw EdgeRequestError(.malformed, "a line that ends in a bare LF")
            }
            let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<newline - 1])
            lineStart = newline + 1
            if head == nil {
                head = try requestLine(line, complete: true)
            } else if line.isEmpty {
                return newline + 1
            } else {
                try field(line, at: base.distance(to: line.baseAddress!))
            }
        }
        if head == nil {
            // The first line has not ended: refused once no request line the edge takes could be this long.
            if scanned > EdgeRequest.maximumURILength + Self.maximumMethodLength + 16 || scanned >= maximumHeadBytes {
                _ = try requestLine(UnsafeRawBufferPointer(rebasing: bytes[..<scanned]), complete: false)
                throw EdgeRequestError(.malformed, "a request line that does not end")
            }
        } else if scanned >= maximumHeadBytes {
            throw EdgeRequestError(.headTooLarge, "a head over the limit")
        }
        return nil
    }

    /// `method SP origin-form SP HTTP/1.x`. With `complete` false, `line` is the start of a first line that has not
    /// ended within the limits, and this finds why it cannot be taken: 414 when the URL so far is over the limit.
    private func requestLine(_ line: UnsafeRawBufferPointer, complete: Bool) throws(EdgeRequestError) -> Head {
        let overflow =
            complete
            ? EdgeRequestError(.malformed, "a request line that is not method SP /target SP HTTP/1.x")
            : scanned >= maximumHeadBytes
                ? EdgeRequestError(.headTooLarge, "a request line over the head limit")
                : EdgeRequestError(.malformed, "a request line that does not end")
        var index = 0
        while index < line.count && Self.isTokenByte(line[index]) { index += 1 }
        guard index < line.count else { throw overflow }
        guard index > 0, index <= Self.maximumMethodLength, line[index] == UInt8(ascii: " ") else {
            throw EdgeRequestError(.malformed, "a method that is not a token")
        }
        let method = UnsafeRawBufferPointer(rebasing: line[..<index])
        index += 1
        let targetStart = index
        guard index < line.count else { throw overflow }
        // Origin-form only: absolute-form, authority-form and `*` are for proxies and CONNECT, which the edge is not.
        guard line[index] == UInt8(ascii: "/") else { throw EdgeRequestError(.malformed, "a request target not in origin-form") }
        let space = memchr(line.baseAddress! + index, Int32(UInt8(ascii: " ")), line.count - index).map { line.baseAddress!.distance(to: $0) }
        let target = UnsafeRawBufferPointer(rebasing: line[targetStart..<(space ?? line.count)])
        guard target.count <= EdgeRequest.maximumURILength else { throw EdgeRequestError(.uriTooLong, "a URL over 8 KiB") }
        guard Self.isVisible(target) else { throw EdgeRequestError(.malformed, "a request target with a byte outside VCHAR") }
        guard let space, complete else { throw overflow }
        let version = UnsafeRawBufferPointer(rebasing: line[(space + 1)...])
        guard version.count == 8, Self.equals(version.prefix(7), "HTTP/1."), version[7] == UInt8(ascii: "0") || version[7] == UInt8(ascii: "1") else {
            throw EdgeRequestError(.malformed, "a version other than HTTP/1.0 or HTTP/1.1")
        }
        let (httpMethod, refusal) = Self.method(method)
        return Head(
            method: httpMethod, methodRefusal: refusal, uri: Self.string(target),
            version: version[7] == UInt8(ascii: "1") ? .http1_1 : .http1_0)
    }

    /// GET, HEAD and OPTIONS (a CORS preflight; `EdgeService` answers 405 when CORS is off). Methods HTTP defines for
    /// other uses get 405, any other token 501 (RFC 9110 §15.5.6, §15.6.2).
    private static func method(_ bytes: UnsafeRawBufferPointer) -> (HTTPMethod, EdgeRequestError?) {
        let method: HTTPMethod
        switch bytes.count {
        case 3 where equals(bytes, "GET"): return (.GET, nil)
        case 4 where equals(bytes, "HEAD"): return (.HEAD, nil)
        case 7 where equals(bytes, "OPTIONS"): return (.OPTIONS, nil)
        case 3 where equals(bytes, "PUT"): method = .PUT
        case 4 where equals(bytes, "POST"): method = .POST
        case 5 where equals(bytes, "PATCH"): method = .PATCH
        case 5 where equals(bytes, "TRACE"): method = .TRACE
        case 6 where equals(bytes, "DELETE"): method = .DELETE
        case 7 where equals(bytes, "CONNECT"): method = .CONNECT
        default:
            return (.RAW(value: string(bytes)), EdgeRequestError(.methodNotImplemented, "a method the edge does not know"))
        }
        return (method, EdgeRequestError(.methodNotAllowed, "a method the edge does not take"))
    }

    /// `token ":" OWS value OWS`: the value kept if the edge reads the field, the body and Host rules applied.
    /// `offset`: where the line starts in the head.
    private mutating func field(_ line: UnsafeRawBufferPointer, at offset: Int) throws(EdgeRequestError) {
        guard line[0] != UInt8(ascii: " ") && line[0] != UInt8(ascii: "\t") else {
            throw EdgeRequestError(.malformed, "an obs-folded line")
        }
        var colon = 0
        while colon < line.count && Self.isTokenByte(line[colon]) { colon += 1 }
        guard colon > 0, colon < line.count, line[colon] == UInt8(ascii: ":") else {
            throw EdgeRequestError(.malformed, "a field name that is not a token followed by a colon")
        }
        var start = colon + 1
        var end = line.count
        while start < end && (line[start] == UInt8(ascii: " ") || line[start] == UInt8(ascii: "\t")) { start += 1 }
        while end > start && (line[end - 1] == UInt8(ascii: " ") || line[end - 1] == UInt8(ascii: "\t")) { end -= 1 }
        guard Self.isFieldValue(UnsafeRawBufferPointer(rebasing: line[start..<end])) else {
            throw EdgeRequestError(.malformed, "a control character in a field value")
        }
        head!.fieldCount += 1
        guard head!.fieldCount <= maximumHeaderCount else { throw EdgeRequestError(.headTooLarge, "more header fields than the limit") }
        let name = UnsafeRawBufferPointer(rebasing: line[..<colon])
        let value = UnsafeRawBufferPointer(rebasing: line[start..<end])
        let span = EdgeRequestHead.Fields.Span(offset: Int32(offset + start), length: Int32(end - start))
        // Checked first: whatever else the field is, it is also kept as the trusted one (its last occurrence).
        if let trustedHeader, trustedHeader.withUnsafeBytes({ Self.name(name, is: $0) }) {
            head!.fields[.trustedProxy] = span
        }
        switch name.count {
        case 4 where Self.name(name, is: "host"):
            head!.hosts += 1
            guard head!.hosts == 1 else { throw EdgeRequestError(.malformed, "more than one Host") }
        case 6 where Self.name(name, is: "cookie"):
            keep(.cookie, span)
        case 6 where keepsOrigin && Self.name(name, is: "origin"):
            keep(.origin, span)
        case 10 where Self.name(name, is: "user-agent"):
            keep(.userAgent, span)
        case 10 where Self.name(name, is: "connection"):
            // llhttp reads a tab after a token as part of it (`close<HT>` does not close): refused rather than read
            // differently.
            guard !line[start...].contains(UInt8(ascii: "\t")) else { throw EdgeRequestError(.malformed, "a tab in a Connection value") }
            connection(value)
        case 13 where Self.name(name, is: "authorization"):
            keep(.authorization, span)
        case 14 where Self.name(name, is: "content-length"):
            head!.contentLengths += 1
            guard head!.contentLengths == 1 else { throw EdgeRequestError(.malformed, "more than one Content-Length") }
            // Digits and nothing after them: llhttp refuses a tab there, so any trailing whitespace is refused.
            let digits = line[start...]
            guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw EdgeRequestError(.malformed, "a Content-Length that is not decimal digits")
            }
            if value.contains(where: { $0 != UInt8(ascii: "0") }) { head!.declaresBody = true }
        case 17 where Self.name(name, is: "transfer-encoding"):
            head!.declaresBody = true
        default:
            break
        }
    }

    /// The first occurrence is the one read (as `HTTPHeaders.first(name:)` did).
    private mutating func keep(_ field: EdgeRequestHead.Field, _ span: EdgeRequestHead.Fields.Span) {
        if head!.fields[field].length < 0 { head!.fields[field] = span }
    }

    /// Comma-separated tokens between spaces, compared without case, as llhttp reads them.
    private mutating func connection(_ value: UnsafeRawBufferPointer) {
        var start = 0
        while start < value.count {
            var end = start
            while end < value.count && value[end] != UInt8(ascii: ",") { end += 1 }
            var first = start
            var last = end
            while first < last && (value[first] == UInt8(ascii: " ") || value[first] == UInt8(ascii: "\t")) { first += 1 }
            while last > first && (value[last - 1] == UInt8(ascii: " ") || value[last - 1] == UInt8(ascii: "\t")) { last -= 1 }
            let token = UnsafeRawBufferPointer(rebasing: value[first..<last])
            if Self.name(token, is: "close") { head!.closeToken = true }
            if Self.name(token, is: "keep-alive") { head!.keepAliveToken = true }
            start = end + 1
        }
    }

    private static func string(_ bytes: UnsafeRawBufferPointer) -> String {
        bytes.withMemoryRebound(to: UInt8.self) { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `bytes` spell `lowercased` with ASCII letters in either case.
    private static func name(_ bytes: UnsafeRawBufferPointer, is lowercased: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == lowercased.count else { return false }
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard (byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte) == lowercased[index] else { return false }
        }
        return true
    }

    private static func name(_ bytes: UnsafeRawBufferPointer, is lowercased: StaticString) -> Bool {
        name(bytes, is: UnsafeRawBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount))
    }

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        bytes.count == text.utf8CodeUnitCount && (bytes.isEmpty || memcmp(bytes.baseAddress!, text.utf8Start, bytes.count) == 0)
    }

    private static func equals(_ bytes: Slice<UnsafeRawBufferPointer>, _ text: StaticString) -> Bool {
        equals(UnsafeRawBufferPointer(rebasing: bytes), text)
    }

    /// `VCHAR*`: `!`…`~`. Written without an early exit, so that it is vectorized.
    static func isVisible(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var outside: UInt8 = 0
        for byte in bytes { outside |= byte &- 0x21 >= 0x5E ? 1 : 0 }
        return outside == 0
    }

    /// `field-value`: visible bytes, obs-text (0x80 and above), spaces and tabs; no other control character or DEL.
    static func isFieldValue(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var control: UInt8 = 0
        for byte in bytes { control |= byte < 0x20 && byte != UInt8(ascii: "\t") || byte == 0x7F ? 1 : 0 }
        return control == 0
    }

    /// RFC 9110 `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"),
            UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }
}

/// Why the edge's decoder refused a request, and so what it is answered (`EdgeHandler` writes it, then closes). A
/// struct with an opaque code (STYLE § Types): new reasons do not break callers.
@_spi(Fuzzing)
public struct EdgeRequestError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Sendable {
            case malformed = "malformed"
            case uriTooLong = "uri-too-long"
            case headTooLarge = "head-too-large"
            case bodyNotAllowed = "body-not-allowed"
            case methodNotAllowed = "method-not-allowed"
            case methodNotImplemented = "method-not-implemented"
        }

        let base: Base

        /// 400: not a request head the edge takes (syntax, version, target form, Host, Content-Length rules).
        public static let malformed = Code(base: .malformed)
        /// 414: a URL over `EdgeRequest.maximumURILength`.
        public static let uriTooLong = Code(base: .uriTooLong)
        /// 431: a head over `maximumHeadBytes`, or more fields than `maximumHeaderCount`.
        public static let headTooLarge = Code(base: .headTooLarge)
        /// 413: `Content-Length` above 0, or any `Transfer-Encoding`.
        public static let bodyNotAllowed = Code(base: .bodyNotAllowed)
        /// 405: a method HTTP defines that the edge does not take (POST, PUT, DELETE, PATCH, TRACE, CONNECT).
        public static let methodNotAllowed = Code(base: .methodNotAllowed)
        /// 501: any other method.
        public static let methodNotImplemented = Code(base: .methodNotImplemented)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// Which rule the head broke, in fixed words (never the request's bytes): for tests and logs.
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
}
