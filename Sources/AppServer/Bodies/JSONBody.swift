import Foundation
import Hummingbird

/// Every JSON answer of the app listener goes through here: one encoder, members sorted (the same answer is the
/// same bytes), `/` left unescaped (URLs read as URLs).
/// Bodies write their absent values as `null` themselves (`encode(_:forKey:)` of an optional), because the
/// contract lists every member and Foundation's synthesized encoding would drop them.
enum JSONBody {
    static func response(_ body: some Encodable, status: HTTPResponse.Status) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(body)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Decodes a request body, or answers 400 naming what is wrong (never Foundation's internal paths).
    static func decode<Body: Decodable>(_ type: Body.Type, from buffer: ByteBuffer, shape: String) throws -> Body {
        let body: Body
        do {
            body = try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
        } catch {
            throw ProblemError.badRequest("Body must be JSON \(shape): \(describe(error))")
        }
        if holdsNUL(body) { throw ProblemError.badRequest("Body must be JSON \(shape): strings may not contain U+0000.") }
        return body
    }

    /// Whether a decoded body holds U+0000 in one of its strings (JSON can carry it, escaped). No stored value may:
    /// PostgreSQL's text cannot, and a C string would end there, silently storing a different value. Members the
    /// body does not read are not looked at (they are ignored anyway).
    static func holdsNUL(_ body: Any) -> Bool {
        Mirror(reflecting: body).children.contains { child in
            switch child.value {
            case let text as String: text.utf8.contains(0)
            case let texts as [String]: texts.contains { $0.utf8.contains(0) }
            default: false
            }
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type for \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default: "not valid JSON"
        }
    }
}
