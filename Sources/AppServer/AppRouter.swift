public import Delivery
public import Gateway
public import Hummingbird
public import Mirror
public import Postgres
import Prometheus
public import SigV4

/// What the app listener's routes need.
public struct AppDependencies: Sendable {
    /// Every write to a generation (with its cache update), and its store for reads.
    public var generations: Generations
    /// The mirror's queue, counted by state for `/metrics`.
    public var jobs: MirrorJobStore
    /// Play statistics (`/v1/generations/{id}/stats`).
    public var plays: Plays
    public var readiness: Readiness
    public var cdnURLs: CDNURLs
    /// `USHER_ADMIN_TOKENS`; empty refuses every `/v1` request.
    public var adminTokens: [String]
    /// The `webhook` role: admin API and fal webhook.
    public var servesAdmin: Bool
    /// Verifies fal's webhooks (with the `webhook` role).
    public var webhookVerifier: FalWebhookVerifier?
    public var shares: ShareLinks
    public var revocations: Revocations
    /// `USHER_PUBLIC_URL`: the edge as viewers reach it (share URLs, the demo page).
    public var publicURL: String
    /// `USHER_DEMO`: serve `/demo/{id}` (with the `webhook` role).
    public var servesDemo: Bool
    /// `Retry-After` of every 503, the edge's value (`GatewayConfiguration.retryAfterUnavailable`).
    public var retryAfterUnavailable: Int

    public init(
        generations: Generations, jobs: MirrorJobStore, plays: Plays, readiness: Readiness, cdnURLs: CDNURLs, adminTokens: [String],
        servesAdmin: Bool,
        webhookVerifier: FalWebhookVerifier?, shares: ShareLinks, revocations: Revocations, publicURL: String,
        servesDemo: Bool, retryAfterUnavailable: Int = GatewayConfiguration().retryAfterUnavailable
    ) {
        self.retryAfterUnavailable = retryAfterUnavailable
        self.revocations = revocations
        self.shares = shares
        self.publicURL = publicURL
        self.servesDemo = servesDemo
        self.webhookVerifier = webhookVerifier
        self.generations = generations
        self.jobs = jobs
        self.plays = plays
        self.readiness = readiness
        self.cdnURLs = cdnURLs
        self.adminTokens = adminTokens
        self.servesAdmin = servesAdmin
    }
}

/// Every route of the app listener, in one place: health and metrics in every role; `/v1`, `/webhooks/fal`
/// and (with `USHER_DEMO=1`) `/demo` with `webhook`.
public func buildAppRouter(_ dependencies: AppDependencies) -> Router<BasicRequestContext> {
    // HEAD of every GET route answers as the GET does, without the body (RFC 9110 §9.3.2).
    let router = Router(options: .autoGenerateHeadEndpoints)
    let methods = RouteMethods()
    router.add(middleware: AppMetricsMiddleware())
    router.add(middleware: ProblemMiddleware(retryAfterUnavailable: dependencies.retryAfterUnavailable, methods: methods))
    router.add(middleware: RequestTargetMiddleware(maximumURILength: EdgeRequest.maximumURILength))
    router.get("healthz") { _, _ in "ok\n" }
    router.get("readyz") { _, _ -> Response in
        let status = await dependencies.readiness.check()
        let body = status.text
        return Response(
            status: status.ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }
    router.get("metrics") { _, _ -> Response in
        await recordQueueGauges(dependencies.jobs)
        await recordDependencyGauges(dependencies.readiness)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: UsherMetrics.registry.emitToBuffer())))
    }
    // The API's description (admin API and fal webhook), as committed: no auth, like the routes' own problem pages.
    router.get("openapi.yaml") { _, _ -> Response in
        Response(
            status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_yaml)))
    }
    if dependencies.servesAdmin {
        let v1 = router.group("v1").add(middleware: AdminAuthMiddleware(tokens: dependencies.adminTokens.map { Array($0.utf8) }))
        GenerationsController(generations: dependencies.generations, plays: dependencies.plays, cdnURLs: dependencies.cdnURLs).addRoutes(to: v1)
        SharesController(shares: dependencies.shares, publicURL: dependencies.publicURL, maximumTTL: dependencies.shares.configuration.maximumTTL)
            .addRoutes(to: v1)
        RevocationsController(revocations: dependencies.revocations).addRoutes(to: v1)
        if dependencies.servesDemo { DemoController(publicURL: dependencies.publicURL).addRoutes(to: router) }
        if let verifier = dependencies.webhookVerifier {
            FalWebhookController(verifier: verifier, generations: dependencies.generations).addRoutes(to: router)
        }
    }
    methods.load(from: router)
    return router
}
