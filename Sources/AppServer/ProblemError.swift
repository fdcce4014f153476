import Delivery
public import Hummingbird
import Logging

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
        let body = ProblemDocument.json(code: code, title: status.reasonPhrase, status: status.code, detail: detail)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func badRequest(_ detail: String) -> ProblemError { ProblemError(.badRequest, code: "bad-request", detail: detail) }
    static func notFound(_ detail: String) -> ProblemError { ProblemError(.notFound, code: "not-found", detail: detail) }
    static func conflict(_ detail: String) -> ProblemError { ProblemError(.conflict, code: "conflict", detail: detail) }
    /// `ProblemMiddleware` adds the configured `Retry-After`.
    static func unavailable(_ detail: String) -> ProblemError {
        ProblemError(.serviceUnavailable, code: "unavailable", detail: detail)
    }
}

/// Every error of the app listener as problem+json: Hummingbird's own (an unknown route, a body over the limit)
/// keep their status with a fixed detail; anything unexpected becomes a 500 that names nothing of the cause (it is
/// logged instead). `ProblemError`s pass through as they are, a 503 with `Retry-After` added when it has none.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Seconds a client should wait after a 503 (`GatewayConfiguration.retryAfterUnavailable`, as on the edge).
    let retryAfterUnavailable: Int
    /// The methods of each route, for 405 and `Allow` when a known path is asked with another method.
    let methods: RouteMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch var problem as ProblemError {
            if problem.status == .serviceUnavailable, problem.headers[.retryAfter] == nil {
                problem.headers[.retryAfter] = String(retryAfterUnavailable)
            }
            throw problem
        } catch let error as any StorageFailure where error.isInvalidInput {
            throw ProblemError.badRequest("A value was refused by the database as malformed.")
        } catch let error as any HTTPResponseError {
            if error.status == .notFound {
                let allowed = methods.allowed(path: request.uri.path)
                if !allowed.isEmpty {
                    throw ProblemError(
                        .methodNotAllowed, code: Self.code(.methodNotAllowed), detail: Self.detail(.methodNotAllowed),
                        headers: [.allow: allowed.joined(separator: ", ")])
                }
            }
            throw ProblemError(error.status, code: Self.code(error.status), detail: Self.detail(error.status))
        } catch {
            context.logger.error("app listener: unexpected error", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw ProblemError(.internalServerError, code: "internal", detail: "The server could not answer this request.")
        }
    }

    static func code(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 404: "not-found"
        case 405: "method-not-allowed"
        case 413: "body-too-large"
        case 400..<500: "bad-request"
        default: "internal"
        }
    }

    static func detail(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 404: "No such resource on this listener."
        case 405: "This method is not allowed here."
        case 413: "The request body is larger than this listener accepts."
        default: status.reasonPhrase
        }
    }
}
