import Foundation
import Gateway
public import Delivery
import Hummingbird
public import SigV4

/// `POST /v1/generations` and `GET /v1/generations/{request_id}` (CONTRACT § Admin API).
struct GenerationsController<Context: RequestContext>: Sendable {
    /// Writes update the caches themselves.
    let generations: Generations
    let cdnURLs: CDNURLs

    func addRoutes(to group: RouterGroup<Context>) {
        group.post("generations", use: register)
        group.get("generations/{request_id}", use: show)
    }

    struct Registration: Decodable {
        var request_id: String
        var owner: String?
        var visibility: String?
        var object_key: String?
    }

    @Sendable func register(request: Request, context: Context) async throws -> Response {
        let body = try await request.body.collect(upTo: 64 * 1024)
        let input: Registration
        do {
            input = try JSONDecoder().decode(Registration.self, from: Data(body.readableBytesView))
        } catch {
            throw ProblemError.badRequest("Body must be JSON {request_id, owner, visibility, object_key?}: \(Self.describe(error))")
        }
        try Self.validate(requestID: input.request_id)
        let visibility = try Self.visibility(input.visibility)
        if let owner = input.owner, !Generation.ownerBytes.contains(owner.utf8.count) {
            throw ProblemError.badRequest("owner must be 1 to 256 bytes.")
        }
        if let key = input.object_key, !Generation.objectKeyBytes.contains(key.utf8.count) {
            throw ProblemError.badRequest("object_key must be 1 to 1024 bytes.")
        }
        let outcome: GenerationRegistration
        do {
            outcome = try await generations.register(
                requestID: input.request_id, owner: input.owner, visibility: visibility, objectKey: input.object_key,
                cdnURL: input.object_key.map(cdnURLs.url(key:)))
        } catch let error as any StorageFailure where error.isUnavailable {
            throw ProblemError.unavailable("The database is unavailable.")
        }
        switch outcome {
        case .created(let generation):
            return Self.json(generation, status: .created)
        case .unchanged(let generation):
            return Self.json(generation, status: .ok)
        case .conflict:
            throw ProblemError.conflict("request_id \(input.request_id) is already registered with different values.")
        }
    }

    @Sendable func show(request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("request_id") ?? ""
        try Self.validate(requestID: id)
        let generation: Generation?
        do {
            generation = try await generations.store.find(id)
        } catch let error as any StorageFailure where error.isUnavailable {
            throw ProblemError.unavailable("The database is unavailable.")
        }
        guard let generation else { throw ProblemError.notFound("No generation \(id).") }
        return Self.json(generation, status: .ok)
    }

    static func validate(requestID: String) throws {
        guard RequestID.isValid(requestID) else {
            throw ProblemError.badRequest("request_id must be 1 to 128 of A-Za-z0-9._- (not . or ..).")
        }
    }

    static func visibility(_ text: String?) throws -> Generation.Visibility {
        guard let visibility = Generation.Visibility(parsing: text) else {
            throw ProblemError.badRequest("visibility must be \"private\" or \"public\".")
        }
        return visibility
    }

    static func json(_ generation: Generation, status: HTTPResponse.Status) -> Response {
        let body = JSONText.object([
            ("request_id", .string(generation.requestID)),
            ("owner", generation.owner.json),
            ("visibility", .string(generation.visibility.rawValue)),
            ("status", .string(generation.status.rawValue)),
            ("fal_url", generation.falURL.json),
            ("cdn_url", generation.cdnURL.json),
            ("object_key", generation.objectKey.json),
            ("mirrored_at", generation.mirroredAt.json),
            ("attempts", .number(Int64(generation.attempts))),
            ("last_error", generation.lastError.json),
        ])
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// Decoding errors phrased without Foundation's internal paths.
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type for \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted: "not valid JSON"
        default: "not valid JSON"
        }
    }
}
