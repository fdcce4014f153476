public import Delivery
import Foundation
import Gateway
import Hummingbird

/// `POST /v1/shares` and `DELETE /v1/shares/{code}` (CONTRACT § Admin API).
struct SharesController<Context: RequestContext>: Sendable {
    let shares: ShareLinks
    /// `USHER_PUBLIC_URL`, without a trailing `/`.
    let publicURL: String
    /// The longest life a share may be given, in seconds.
    let maximumTTL: Int

    func addRoutes(to group: RouterGroup<Context>) {
        group.post("shares", use: create)
        group.delete("shares/{code}", use: revoke)
    }

    @Sendable func create(request: Request, context: Context) async throws -> Response {
        let body = try await request.body.collect(upTo: 64 * 1024)
        let input = try JSONBody.decode(ShareCreationBody.self, from: body, shape: "{request_id, ttl_seconds, max_uses?}")
        try GenerationsController<Context>.validate(requestID: input.requestID)
        guard (1...maximumTTL).contains(input.ttlSeconds) else {
            throw ProblemError.badRequest("ttl_seconds must be an integer from 1 to \(maximumTTL).")
        }
        if let maxUses = input.maxUses, !Share.maxUses.contains(maxUses) {
            throw ProblemError.badRequest("max_uses must be an integer from 1 to 1000000000, or absent for no limit.")
        }
        let created: Share?
        do {
            created = try await shares.create(requestID: input.requestID, ttlSeconds: input.ttlSeconds, maxUses: input.maxUses)
        } catch {
            throw ProblemError.unavailable("The database is unavailable.")
        }
        guard let share = created else { throw ProblemError.notFound("No generation \(input.requestID).") }
        return try JSONBody.response(ShareBody(share: share, url: "\(publicURL)/s/\(share.code)"), status: .created)
    }

    @Sendable func revoke(request: Request, context: Context) async throws -> Response {
        let code = context.parameters.get("code") ?? ""
        guard ShareLinks.isValidCode(code) else { throw ProblemError.notFound("No share link with this code.") }
        let revoked: Share?
        do {
            revoked = try await shares.revoke(code: code)
        } catch let failure where failure.code == .cacheNotUpdated {
            throw ProblemError.unavailable("The share is revoked in the database, but the cache could not be updated: retry the DELETE.")
        } catch {
            throw ProblemError.unavailable("The database is unavailable.")
        }
        guard revoked != nil else { throw ProblemError.notFound("No share link with this code.") }
        return Response(status: .noContent)
    }
}
