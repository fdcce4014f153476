public import Hummingbird

/// An RFC 9457 problem as a Hummingbird error: every failure on the app listener answers
/// `application/problem+json` with a fixed `type` per kind, never a stack trace or a secret.
public struct ProblemError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let detail: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        headers[.cacheControl] = "no-store"
        let body = JSONText.object([
            ("type", .string("https://usher.dev/problems/\(code)")),
            ("title", .string(status.reasonPhrase)),
            ("status", .number(Int64(status.code))),
            ("detail", .string(detail)),
        ])
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func badRequest(_ detail: String) -> ProblemError { ProblemError(.badRequest, code: "bad-request", detail: detail) }
    static func notFound(_ detail: String) -> ProblemError { ProblemError(.notFound, code: "not-found", detail: detail) }
    static func conflict(_ detail: String) -> ProblemError { ProblemError(.conflict, code: "conflict", detail: detail) }
    static func unavailable(_ detail: String) -> ProblemError {
        ProblemError(.serviceUnavailable, code: "unavailable", detail: detail, headers: [.retryAfter: "2"])
    }
}

/// Small JSON writer for responses whose `null`s matter (Foundation's encoder drops nil members).
enum JSONText {
    enum Value {
        case string(String)
        case number(Int64)
        case null
    }

    static func object(_ members: [(String, Value)]) -> String {
        "{" + members.map { name, value in quote(name) + ":" + render(value) }.joined(separator: ",") + "}"
    }

    static func render(_ value: Value) -> String {
        switch value {
        case .string(let s): quote(s)
        case .number(let n): String(n)
        case .null: "null"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension Optional where Wrapped == String {
    var json: JSONText.Value { map { .string($0) } ?? .null }
}
