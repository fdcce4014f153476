public import Hummingbird
import Synchronization

/// The methods each route of the app listener answers, read from the router once every route is in: a known path
/// asked with another method gets `405` and `Allow` (RFC 9110 §15.5.6) instead of Hummingbird's 404.
final class RouteMethods: Sendable {
    private struct Route {
        /// A path segment, or nil for a `{capture}`.
        let segments: [Substring?]
        var methods: Set<String>
    }

    private let routes = Mutex<[Route]>([])

    func load<Context>(from router: Router<Context>) {
        var table: [Route] = []
        for route in router.routes {
            let segments = route.path.components.map { component -> Substring? in
                let text = component.description
                return text.hasPrefix("{") && text.hasSuffix("}") ? nil : Substring(text)
            }
            if let index = table.firstIndex(where: { $0.segments == segments }) {
                table[index].methods.insert(route.method.rawValue)
            } else {
                table.append(Route(segments: segments, methods: [route.method.rawValue]))
            }
        }
        // The router answers HEAD for every GET route (`.autoGenerateHeadEndpoints`), without listing it.
        for index in table.indices where table[index].methods.contains("GET") { table[index].methods.insert("HEAD") }
        routes.withLock { $0 = table }
    }

    /// The methods this path answers, sorted (the `Allow` header), or none when no route has its shape.
    func allowed(path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return routes.withLock { table in
            table.first { route in
                route.segments.count == segments.count && zip(route.segments, segments).allSatisfy { $0 == nil || $0 == $1 }
            }?.methods.sorted() ?? []
        }
    }
}

/// What the app listener refuses before routing, as the edge does: a URL over 8 KiB (414), and `%00` anywhere in it
/// (400), since no stored value may hold U+0000 (a C string would end there and another value be stored).
struct RequestTargetMiddleware<Context: RequestContext>: RouterMiddleware {
    /// `EdgeRequest.maximumURILength`, the limit of both listeners.
    let maximumURILength: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let target = request.uri.description
        guard target.utf8.count <= maximumURILength else {
            throw ProblemError(.uriTooLong, code: "uri-too-long", detail: "URLs are limited to 8 KiB.")
        }
        if target.contains("%00") {
            throw ProblemError.badRequest("URLs may not contain %00.")
        }
        return try await next(request, context)
    }
}
