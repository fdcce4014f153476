import Delivery
import NIOCore
import NIOHTTP1

/// A complete edge response, built before anything is written, and written by `encode` as one buffer.
///
/// The edge writes its few response shapes itself rather than through `HTTPHeaders` and `HTTPResponseEncoder`:
/// that path cost a header array, a promise and three pipeline writes per request (with it gone, `/healthz` measured
/// 41 → 19–27 µs of CPU per request; Benchmarks/load/results/NOTEBOOK.md, build 78fb5ab). Every value written is
/// built here or in `EdgeService` from encoded parts, so no CR or LF can reach a header.
struct EdgeReply {
    enum Caching: Equatable {
        case noStore
        case privateMaxAge(Int)
        case publicMaxAge(Int)
    }

    var status: HTTPResponseStatus
    /// `Location` of a redirect (which also gets `Referrer-Policy: no-referrer`).
    var location: String?
    var caching: Caching
    var contentType: StaticString?
    var extraHeaders: [(String, String)]
    var body: String
    /// CORS headers (`CORSPolicy`): set on every `/v` and `/s` answer once `USHER_CORS_ORIGINS` is set.
    var cors: CORSGrant? = nil

    /// `302 Found` with the headers every redirect carries.
    static func redirect(to location: String, caching: Caching) -> EdgeReply {
        EdgeReply(status: .found, location: location, caching: caching, contentType: nil, extraHeaders: [], body: "")
    }

    /// An RFC 9457 problem. `detail` is fixed text per case: never a token, a key or a stack trace.
    static func problem(_ problem: Problem, extraHeaders: [(String, String)] = []) -> EdgeReply {
        EdgeReply(
            status: problem.status, location: nil, caching: .noStore, contentType: "application/problem+json",
            extraHeaders: extraHeaders, body: problem.json)
    }

    /// 503 while Redis and Postgres cannot answer (or the revocation list has not loaded).
    static func dependencyDown(retryAfter: Int) -> EdgeReply {
        .problem(.dependencyDown, extraHeaders: [("Retry-After", String(retryAfter))])
    }

    /// 405 for a method a route does not take: the edge reads GET and HEAD (and, with CORS, answers OPTIONS before
    /// any route).
    static let methodNotAllowed = EdgeReply.problem(.methodNotAllowed, extraHeaders: [("Allow", "GET, HEAD")])

    static func text(_ status: HTTPResponseStatus, _ body: String) -> EdgeReply {
        EdgeReply(status: status, location: nil, caching: .noStore, contentType: "text/plain; charset=utf-8", extraHeaders: [], body: body)
    }

    /// Whether the response tells the client the connection closes after it, or (HTTP/1.0) that it stays open.
    enum Connection {
        case keepAlive
        /// HTTP/1.0 keep-alive, which must be said.
        case keepAliveHTTP10
        case close
    }

    /// The response as HTTP/1.1 bytes. A reply to HEAD carries the headers of the GET (Content-Length included)
    /// and no body.
    ///
    /// Written as two copies into reserved space (before and after the CORS headers) rather than a `ByteBuffer` write
    /// per part: each of those ~17 writes paid a uniqueness check, a capacity check and an exclusivity check (README
    /// § The edge's request decoder: what a request costs).
    func encode(into buffer: inout ByteBuffer, version: HTTPVersion, headOnly: Bool, connection: Connection, date: String) {
        let reason = status.reasonPhrase
        // Fixed text and numbers (at most 20 digits each) take at most 180 bytes.
        var headers = 200 + reason.utf8.count + (location?.utf8.count ?? 0) + (contentType?.utf8CodeUnitCount ?? 0)
        for (name, value) in extraHeaders { headers += 4 + name.utf8.count + value.utf8.count }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: headers) { space in
            var out = ReplyWriter(space)
            out.append("HTTP/")
            out.write(version.major)
            out.append(".")
            out.write(version.minor)
            out.append(" ")
            out.write(Int(status.code))
            out.append(" ")
            out.write(reason)
            if let location {
                out.append("\r\nLocation: ")
                out.write(location)
            }
            switch caching {
            case .noStore:
                out.append("\r\nCache-Control: no-store")
            case .privateMaxAge(let seconds):
                out.append("\r\nCache-Control: private, max-age=")
                out.write(seconds)
            case .publicMaxAge(let seconds):
                out.append("\r\nCache-Control: public, max-age=")
                out.write(seconds)
            }
            if location != nil { out.append("\r\nReferrer-Policy: no-referrer") }
            if let contentType {
                out.append("\r\nContent-Type: ")
                out.append(contentType)
            }
            for (name, value) in extraHeaders {
                out.append("\r\n")
                out.write(name)
                out.append(": ")
                out.write(value)
            }
            return out.count
        }
        cors?.encode(into: &buffer)
        let bodyBytes = headOnly ? 0 : body.utf8.count
        // Fixed text and the length take at most 74 bytes.
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 100 + date.utf8.count + bodyBytes) { space in
            var out = ReplyWriter(space)
            // RFC 9110 §8.6: no Content-Length in a 204 (a CORS preflight's answer).
            if status != .noContent {
                out.append("\r\nContent-Length: ")
                out.write(body.utf8.count)
            }
            out.append("\r\nDate: ")
            out.write(date)
            switch connection {
            case .keepAlive: break
            case .keepAliveHTTP10: out.append("\r\nConnection: keep-alive")
            case .close: out.append("\r\nConnection: close")
            }
            out.append("\r\n\r\n")
            if !headOnly { out.write(body) }
            return out.count
        }
    }
}

/// Copies a reply's parts into space `EdgeReply.encode` reserved for them; each caller reserves at least what it
/// writes (fixed text is counted generously, every variable part exactly), so no write is checked.
private struct ReplyWriter {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private(set) var count = 0

    init(_ space: UnsafeMutableRawBufferPointer) {
        base = space.baseAddress!
        capacity = space.count
    }

    /// Fixed text. Named apart from `write(_: String)`: with both called `write`, a literal would take the `String`
    /// overload (a literal's default type) and be copied through a `String`.
    mutating func append(_ text: StaticString) {
        copy(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func write(_ text: String) {
        if let done: Void = text.utf8.withContiguousStorageIfAvailable({ copy(UnsafeRawBufferPointer($0)) }) { return done }
        for byte in text.utf8 { copy(byte) }
    }

    /// A non-negative integer in decimal (a negative one, which no caller passes, as 0).
    mutating func write(_ number: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for any Int
        var value = UInt64(max(number, 0))
        withUnsafeMutableBytes(of: &digits) { scratch in
            var index = scratch.count
            repeat {
                index -= 1
                scratch[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            } while value > 0
            copy(UnsafeRawBufferPointer(rebasing: scratch[index...]))
        }
    }

    private mutating func copy(_ bytes: UnsafeRawBufferPointer) {
        precondition(count + bytes.count <= capacity, "EdgeReply.encode reserved too little")
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        (base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    private mutating func copy(_ byte: UInt8) {
        precondition(count < capacity, "EdgeReply.encode reserved too little")
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }
}

/// The edge's problem types, each with its status and fixed wording (CONTRACT § Gateway).
struct Problem: Sendable {
    let status: HTTPResponseStatus
    let code: String
    let title: String
    let detail: String

    /// Built once per problem, so error answers do no JSON encoding.
    let json: String

    init(_ status: HTTPResponseStatus, _ code: String, _ title: String, _ detail: String) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        json = ProblemDocument.json(code: code, title: title, status: Int(status.code), detail: detail)
    }

    static let notFound = Problem(.notFound, "not-found", "Not Found", "No video with this id.")
    static let shareNotFound = Problem(.notFound, "not-found", "Not Found", "No share link with this code.")
    static let shareGone = Problem(.gone, "share-gone", "Gone", "This share link has expired, was revoked or has no uses left.")
    static let unknownRoute = Problem(.notFound, "not-found", "Not Found", "The edge serves /v/{id} and /s/{code}.")
    static let missingToken = Problem(.unauthorized, "token-required", "Unauthorized", "This video needs a viewer token.")
    static let invalidToken = Problem(.unauthorized, "invalid-token", "Unauthorized", "The viewer token is invalid or expired.")
    static let forbidden = Problem(.forbidden, "not-in-scope", "Forbidden", "The viewer token does not cover this video.")
    static let gone = Problem(.gone, "gone", "Gone", "This video is no longer available.")
    static let notReady = Problem(.serviceUnavailable, "not-ready", "Service Unavailable", "The video is still being prepared.")
    static let dependencyDown = Problem(.serviceUnavailable, "unavailable", "Service Unavailable", "Try again shortly.")
    static let badDownload = Problem(.badRequest, "bad-download", "Bad Request", "download must be 1, true, 0 or false, with a non-empty filename.")
    static let uriTooLong = Problem(.uriTooLong, "uri-too-long", "URI Too Long", "URLs are limited to 8 KiB.")
    static let headersTooLarge = Problem(
        .requestHeaderFieldsTooLarge, "headers-too-large", "Request Header Fields Too Large", "The request head is larger than the edge accepts.")
    static let malformedRequest = Problem(.badRequest, "bad-request", "Bad Request", "The request could not be parsed as HTTP/1.1.")
    static let bodyTooLarge = Problem(.payloadTooLarge, "body-too-large", "Content Too Large", "The edge takes GET and HEAD requests without a body.")
    static let rateLimited = Problem(.tooManyRequests, "rate-limited", "Too Many Requests", "Slow down: try again after Retry-After seconds.")
    static let methodNotAllowed = Problem(.methodNotAllowed, "method-not-allowed", "Method Not Allowed", "Use GET or HEAD.")
    static let methodNotImplemented = Problem(.notImplemented, "method-not-implemented", "Not Implemented", "The edge takes GET and HEAD.")
}
