import Hummingbird
import UsherCrypto

/// `Authorization: Bearer <one of USHER_ADMIN_TOKENS>` for `/v1`, compared in constant time.
struct AdminAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: [[UInt8]]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw Self.unauthorized("An admin bearer token is required.")
        }
        let presented = Array(header.dropFirst(7).utf8)
        // Check every configured token, so timing does not reveal which one (or how many) exist.
        var match = false
        for token in tokens where ConstantTime.equals(token, presented) { match = true }
        guard match else { throw Self.unauthorized("The admin bearer token is not valid.") }
        return try await next(request, context)
    }

    static func unauthorized(_ detail: String) -> ProblemError {
        ProblemError(.unauthorized, code: "admin-unauthorized", detail: detail, headers: [.wwwAuthenticate: #"Bearer realm="usher-admin""#])
    }
}
