public import Delivery
import Foundation
import Gateway
import Hummingbird
import ViewerAuth

/// `POST /v1/revocations` and `DELETE /v1/revocations/{kind}/{value}` (CONTRACT § Admin API).
struct RevocationsController<Context: RequestContext>: Sendable {
    let revocations: Revocations

    func addRoutes(to group: RouterGroup<Context>) {
        group.post("revocations", use: add)
        // `**`: a value may hold `/` (sent as is or as %2F); every segment is percent-decoded.
        group.delete("revocations/{kind}/**", use: remove)
    }

    @Sendable func add(request: Request, context: Context) async throws -> Response {
        let body = try await request.body.collect(upTo: 16 * 1024)
        guard case .object(let members) = try? JSONValue.parse(Array(body.readableBytesView)) else {
            throw ProblemError.badRequest(#"Body must be a JSON object: {"jti": …} | {"sub": …} | {"request_id": …}, optional "until"."#)
        }
        var target: (Revocation.Kind, String)?
        var until: String?
        for (name, value) in members {
            if name == "until" {
                guard case .string(let text) = value else { throw ProblemError.badRequest("until must be an RFC 3339 time.") }
                until = text
                continue
            }
            guard let kind = Revocation.Kind(rawValue: name) else {
                throw ProblemError.badRequest("Unknown member \"\(name)\": use jti, sub or request_id, and until.")
            }
            guard target == nil else { throw ProblemError.badRequest("Name exactly one of jti, sub and request_id.") }
            guard case .string(let text) = value, Revocation.valueBytes.contains(text.utf8.count), !text.utf8.contains(0) else {
                throw ProblemError.badRequest("\(name) must be a string of 1 to 256 bytes, without U+0000.")
            }
            target = (kind, text)
        }
        guard let (kind, value) = target else { throw ProblemError.badRequest("Name one of jti, sub and request_id.") }
        if let until, !RFC3339.isValid(until) { throw ProblemError.badRequest("until must be an RFC 3339 time, e.g. 2026-12-31T23:59:59Z.") }
        let revocation: Revocation
        do {
            revocation = try await revocations.add(kind, value: value, until: until)
        } catch let error as any StorageFailure where error.isInvalidInput {
            throw ProblemError.badRequest("until must be an RFC 3339 time, e.g. 2026-12-31T23:59:59Z.")
        } catch let error as any StorageFailure where error.isUnavailable {
            throw ProblemError.unavailable("The database is unavailable.")
        }
        return try JSONBody.response(RevocationBody(revocation: revocation), status: .created)
    }

    /// Idempotent: removing what is not revoked answers 204 too.
    @Sendable func remove(request: Request, context: Context) async throws -> Response {
        guard let kind = context.parameters.get("kind").flatMap(Revocation.Kind.init(rawValue:)) else {
            throw ProblemError.notFound("Revocations are under /v1/revocations/jti, /sub or /request_id.")
        }
        let raw = context.parameters.getCatchAll().joined(separator: "/")
        guard let value = Self.percentDecoded(raw), Revocation.valueBytes.contains(value.utf8.count) else {
            throw ProblemError.badRequest("The value must be 1 to 256 bytes, percent-encoded as a URL path.")
        }
        do {
            _ = try await revocations.remove(kind, value: value)
        } catch let error as any StorageFailure where error.isUnavailable {
            throw ProblemError.unavailable("The database is unavailable.")
        }
        return Response(status: .noContent)
    }

    /// RFC 3986 percent-decoding, strictly: a `%` not followed by two hex digits, or bytes that are not UTF-8, is nil.
    static func percentDecoded(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        func hex(_ byte: UInt8?) -> UInt8? {
            switch byte {
            case let b? where (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b): b - UInt8(ascii: "0")
            case let b? where (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(b): b - UInt8(ascii: "a") + 10
            case let b? where (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(b): b - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = hex(iterator.next()), let low = hex(iterator.next()) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
