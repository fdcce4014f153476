public import Delivery
import Foundation
import Gateway
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

    @Sendable func register(request: Request, context: Context) async throws -> Response {
        let body = try await request.body.collect(upTo: 64 * 1024)
        let input = try JSONBody.decode(GenerationRegistrationBody.self, from: body, shape: "{request_id, owner, visibility, object_key?}")
        try Self.validate(requestID: input.requestID)
        let visibility = try Self.visibility(input.visibility)
        if let owner = input.owner, !Generation.ownerBytes.contains(owner.utf8.count) {
            throw ProblemError.badRequest("owner must be 1 to 256 bytes.")
        }
        if let key = input.objectKey, !Generation.objectKeyBytes.contains(key.utf8.count) {
            throw ProblemError.badRequest("object_key must be 1 to 1024 bytes.")
        }
        let outcome: GenerationRegistration
        do {
            outcome = try await generations.register(
                requestID: input.requestID, owner: input.owner, visibility: visibility, objectKey: input.objectKey,
                cdnURL: input.objectKey.map(cdnURLs.url(key:)))
        } catch let error as any StorageFailure where error.isUnavailable {
            throw ProblemError.unavailable("The database is unavailable.")
        }
        switch outcome {
        case .created(let generation):
            return try JSONBody.response(GenerationBody(generation: generation), status: .created)
        case .unchanged(let generation):
            return try JSONBody.response(GenerationBody(generation: generation), status: .ok)
        case .conflict:
            throw ProblemError.conflict("request_id \(input.requestID) is already registered with different values.")
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
        return try JSONBody.response(GenerationBody(generation: generation), status: .ok)
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
}
