import Delivery
import NIOCore
import NIOHTTP1

/// A complete edge response, built before anything is written, and written by `encode` as one buffer.
///
/// The edge writes its few response shapes itself rather than through `HTTPHeaders` and `HTTPResponseEncoder`:
/// that path cost a header array, a promise and three pipeline writes per request (with it gone, `/healthz` measured
/// 41 → 19–27 µs of CPU per request; README § Gateway under load). Every value written is built here or in
/// `EdgeService` from encoded parts, so no CR or LF can reach a header.
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
    func encode(into buffer: inout ByteBuffer, version: HTTPVersion, headOnly: Bool, connection: Connection, date: String) {
        buffer.writeStaticString("HTTP/")
        buffer.writeString(String(version.major))
        buffer.writeStaticString(".")
        buffer.writeString(String(version.minor))
        buffer.writeStaticString(" ")
        buffer.writeString(String(status.code))
        buffer.writeStaticString(" ")
        buffer.writeString(status.reasonPhrase)
        if let location {
            buffer.writeStaticString("\r\nLocation: ")
            buffer.writeString(location)
        }
        switch caching {
        case .noStore:
            buffer.writeStaticString("\r\nCache-Control: no-store")
        case .privateMaxAge(let seconds):
            buffer.writeStaticString("\r\nCache-Control: private, max-age=")
            buffer.writeString(String(seconds))
        case .publicMaxAge(let seconds):
            buffer.writeStaticString("\r\nCache-Control: public, max-age=")
            buffer.writeString(String(seconds))
        }
        if location != nil { buffer.writeStaticString("\r\nReferrer-Policy: no-referrer") }
        if let contentType {
            buffer.writeStaticString("\r\nContent-Type: ")
            buffer.writeStaticString(contentType)
        }
        for (name, value) in extraHeaders {
            buffer.writeStaticString("\r\n")
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
        }
        cors?.encode(into: &buffer)
        // RFC 9110 §8.6: no Content-Length in a 204 (a CORS preflight's answer).
        if status != .noContent {
            buffer.writeStaticString("\r\nContent-Length: ")
            buffer.writeString(String(body.utf8.count))
        }
        buffer.writeStaticString("\r\nDate: ")
        buffer.writeString(date)
        switch connection {
        case .keepAlive: break
        case .keepAliveHTTP10: buffer.writeStaticString("\r\nConnection: keep-alive")
        case .close: buffer.writeStaticString("\r\nConnection: close")
        }
        buffer.writeStaticString("\r\n\r\n")
        if !headOnly { buffer.writeString(body) }
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
