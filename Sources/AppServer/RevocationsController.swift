import Foundation
import Gateway
import Hummingbird
import Postgres
import ViewerAuth

/// `POST /v1/revocations` and `DELETE /v1/revocations/{kind}/{value}` (CONTRACT § Admin API).
struct RevocationsController<Context: RequestContext>: Sendable {
    let revocations: Revocations

    func addRoutes(to group: RouterGroup<Context>) {
        group.post("revocations", use: add)
        group.delete("revocations/{kind}/{value}", use: remove)
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
                throw ProblemError.badRequest("Unknown member \(JSONText.quote(name)): use jti, sub or request_id, and until.")
            }
            guard target == nil else { throw ProblemError.badRequest("Name exactly one of jti, sub and request_id.") }
            guard case .string(let text) = value, (1...256).contains(text.utf8.count) else {
                throw ProblemError.badRequest("\(name) must be a string of 1 to 256 bytes.")
            }
            target = (kind, text)
        }
        guard let (kind, value) = target else { throw ProblemError.badRequest("Name one of jti, sub and request_id.") }
        if let until, !Self.isRFC3339(until) { throw ProblemError.badRequest("until must be an RFC 3339 time, e.g. 2026-12-31T23:59:59Z.") }
        let revocation: Revocation
        do {
            revocation = try await revocations.add(kind, value: value, until: until)
        } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
            throw ProblemError.badRequest("until must be an RFC 3339 time, e.g. 2026-12-31T23:59:59Z.")
        } catch {
            throw ProblemError.unavailable("The database is unavailable.")
        }
        let json = JSONText.object([
            ("kind", .string(revocation.kind.rawValue)), ("value", .string(revocation.value)), ("until", revocation.until.json),
        ])
        return Response(status: .created, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// Idempotent: removing what is not revoked answers 204 too.
    @Sendable func remove(request: Request, context: Context) async throws -> Response {
        guard let kind = context.parameters.get("kind").flatMap(Revocation.Kind.init(rawValue:)) else {
            throw ProblemError.notFound("Revocations are under /v1/revocations/jti, /sub or /request_id.")
        }
        let value = context.parameters.get("value") ?? ""
        do {
            _ = try await revocations.remove(kind, value: value)
        } catch {
            throw ProblemError.unavailable("The database is unavailable.")
        }
        return Response(status: .noContent)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`: the shape only; PostgreSQL checks the values.
    static func isRFC3339(_ text: String) -> Bool {
        text.wholeMatch(of: /\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})/) != nil
    }
}
