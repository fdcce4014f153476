import NIOCore
import NIOHTTP1

/// A complete edge response, built before anything is written.
struct EdgeReply {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: String

    /// `302 Found` with the headers every redirect carries.
    static func redirect(to location: String, cacheControl: String) -> EdgeReply {
        var headers = HTTPHeaders()
        headers.reserveCapacity(4)
        headers.add(name: "Location", value: location)
        headers.add(name: "Cache-Control", value: cacheControl)
        headers.add(name: "Referrer-Policy", value: "no-referrer")
        return EdgeReply(status: .found, headers: headers, body: "")
    }

    /// An RFC 9457 problem. `detail` is fixed text per case: never a token, a key or a stack trace.
    static func problem(_ problem: Problem, extraHeaders: [(String, String)] = []) -> EdgeReply {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/problem+json")
        headers.add(name: "Cache-Control", value: "no-store")
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        return EdgeReply(status: problem.status, headers: headers, body: problem.json)
    }

    static func text(_ status: HTTPResponseStatus, _ body: String) -> EdgeReply {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Cache-Control", value: "no-store")
        return EdgeReply(status: status, headers: headers, body: body)
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
        json = #"{"type":"https://usher.dev/problems/\#(code)","title":"\#(title)","status":\#(status.code),"detail":"\#(detail)"}"#
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
}
