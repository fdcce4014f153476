import Dispatch
public import Hummingbird
import Metrics

/// Requests of the app listener by route and status, and their latency, under the same names as the edge's
/// (`usher_http_requests_total`, `usher_http_request_duration_seconds`, `listener="app"`). The route is the matched
/// pattern (e.g. `/v1/generations/{request_id}`), or `other` for paths no route serves, so labels stay bounded.
struct AppMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        let status: Int
        do {
            let response = try await next(request, context)
            status = response.status.code
            record(context: context, status: status, started: started)
            return response
        } catch {
            status = (error as? any HTTPResponseError)?.status.code ?? 500
            record(context: context, status: status, started: started)
            throw error
        }
    }

    private func record(context: Context, status: Int, started: UInt64) {
        // Hummingbird names unmatched requests "NotFound"; every route pattern starts with "/".
        let route = context.endpointPath.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "other"
        Counter(label: "usher_http_requests_total", dimensions: [("listener", "app"), ("route", route), ("status", String(status))]).increment()
        Timer(label: "usher_http_request_duration_seconds", dimensions: [("listener", "app"), ("route", route)])
            .recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
    }
}
