public import Delivery
import Foundation
import Gateway
import Hummingbird
import Logging
public import SigV4

/// `/v1/generations`: register, show, list an owner's library, delete (CONTRACT § Admin API and § Deletion,
/// retention, listing).
struct GenerationsController<Context: RequestContext>: Sendable {
    /// Writes update the caches themselves.
    let generations: Generations
    let plays: Plays
    let cdnURLs: CDNURLs

    func addRoutes(to group: RouterGroup<Context>) {
        group.post("generations", use: register)
        group.get("generations", use: list)
        group.get("generations/{request_id}", use: show)
        group.delete("generations/{request_id}", use: delete)
        group.get("generations/{request_id}/stats", use: stats)
    }

    @Sendable func register(request: Request, context: Context) async throws -> Response {
        let body = try await request.body.collect(upTo: 64 * 1024)
        let input = try JSONBody.decode(
            GenerationRegistrationBody.self, from: body, shape: "{request_id, owner, visibility, object_key?, expires_at?}")
        try Self.validate(requestID: input.requestID)
        let visibility = try Self.visibility(input.visibility)
        if let owner = input.owner, !Generation.ownerBytes.contains(owner.utf8.count) {
            throw ProblemError.badRequest("owner must be 1 to 256 bytes.")
        }
        if let key = input.objectKey, !Generation.isValidObjectKey(key) {
            throw ProblemError.badRequest("object_key must be \(Generation.objectKeyRule).")
        }
        if let expiresAt = input.expiresAt, !RFC3339.isValid(expiresAt) {
            throw ProblemError.badRequest("expires_at must be an RFC 3339 time, e.g. 2026-12-31T23:59:59Z.")
        }
        let outcome: GenerationRegistration
        do {
            outcome = try await generations.register(
                requestID: input.requestID, owner: input.owner, visibility: visibility, objectKey: input.objectKey,
                cdnURL: input.objectKey.map(cdnURLs.url(key:)), expiresAt: input.expiresAt)
        } catch let error as any StorageFailure where error.isInvalidInput {
            throw ProblemError.badRequest("expires_at must be an RFC 3339 time, e.g. 2026-12-31T23:59:59Z.")
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

    /// `GET /v1/generations?owner=O[&status=S][&limit=50][&cursor=C]`: newest first, keyset-paginated.
    @Sendable func list(request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        guard let owner = query["owner"].map(String.init), Generation.ownerBytes.contains(owner.utf8.count) else {
            throw ProblemError.badRequest("owner is required (1 to 256 bytes).")
        }
        var status: Generation.Status?
        if let text = query["status"] {
            guard let parsed = Generation.Status(rawValue: String(text).uppercased()) else {
                throw ProblemError.badRequest("status must be PENDING, MIRRORING, COMPLETED, FAILED or DELETED.")
            }
            status = parsed
        }
        var limit = GenerationPage.defaultLimit
        if let text = query["limit"] {
            guard let value = Int(text), GenerationPage.limits.contains(value) else {
                throw ProblemError.badRequest("limit must be an integer from 1 to 200.")
            }
            limit = value
        }
        var cursor: GenerationCursor?
        if let text = query["cursor"] {
            guard let parsed = GenerationCursor(token: String(text)) else { throw ProblemError.badRequest("cursor is not one this API gave.") }
            cursor = parsed
        }
        let page: GenerationPage
        do {
            page = try await generations.list(owner: owner, status: status, limit: limit, after: cursor)
        } catch let error as any StorageFailure where error.isInvalidInput {
            throw ProblemError.badRequest("cursor is not one this API gave.")
        } catch let error as any StorageFailure where error.isUnavailable {
            throw ProblemError.unavailable("The database is unavailable.")
        }
        return try JSONBody.response(GenerationListBody(page: page), status: .ok)
    }

    /// `DELETE /v1/generations/{request_id}`: 204 once the row is DELETED and the object gone; again → 204.
    @Sendable func delete(request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("request_id") ?? ""
        try Self.validate(requestID: id)
        let found: Bool
        do {
            found = try await generations.delete(id)
        } catch let failure as Generations.DeletionFailure {
            context.logger.warning("deletion not finished", metadata: ["request_id": "\(id)", "error": "\(failure)"])
            throw ProblemError.unavailable(
                "The video is deleted for viewers, but the bucket did not confirm removing its object: retry the DELETE (the worker retries too).")
        } catch let error as any StorageFailure where error.isUnavailable {
            throw ProblemError.unavailable("The database is unavailable.")
        }
        guard found else { throw ProblemError.notFound("No generation \(id).") }
        return Response(status: .noContent)
    }

    /// `GET /v1/generations/{request_id}/stats[?from=YYYY-MM-DD&to=YYYY-MM-DD]`: the last 30 days by default, at
    /// most 400.
    @Sendable func stats(request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("request_id") ?? ""
        try Self.validate(requestID: id)
        let query = request.uri.queryParameters
        let today = PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970))
        func day(_ name: Substring) throws -> PlayDay? {
            guard let text = query[name] else { return nil }
            guard let day = PlayDay(text) else { throw ProblemError.badRequest("\(name) must be a date, YYYY-MM-DD.") }
            return day
        }
        guard let (from, to) = Plays.range(from: try day("from"), to: try day("to"), today: today) else {
            throw ProblemError.badRequest("from must not be after to, and the range at most \(Plays.maximumRangeDays) days.")
        }
        do {
            guard try await generations.store.find(id) != nil else { throw ProblemError.notFound("No generation \(id).") }
            return try JSONBody.response(PlayStatsBody(stats: try await plays.stats(requestID: id, from: from, to: to)), status: .ok)
        } catch let error as any StorageFailure where error.isUnavailable {
            throw ProblemError.unavailable("Postgres or Redis is unavailable; the plays are kept and counted when it returns.")
        }
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
