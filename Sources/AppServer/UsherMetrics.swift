import CoreMetrics
import Gateway
import Postgres
public import Prometheus

/// The process's one Prometheus registry behind swift-metrics. Bootstrapped once, whether by `usher serve` or by
/// tests building several servers in one process.
public enum UsherMetrics {
    public static let registry = PrometheusCollectorRegistry()

    private static let bootstrapped: Void = {
        var factory = PrometheusMetricsFactory(registry: registry)
        // The edge answers in tens of microseconds; the default buckets start at 5 ms.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(5),
        ]
        MetricsSystem.bootstrap(factory)
    }()

    public static func bootstrap() { _ = bootstrapped }
}

/// `usher_mirror_jobs{state}` and `usher_mirror_oldest_queued_job_age_seconds` from Postgres, read when `/metrics` is
/// scraped; a database that cannot answer leaves the last values (the scrape itself still succeeds).
func recordQueueGauges(_ jobs: MirrorJobStore) async {
    guard let (counts, oldest) = try? await jobs.countByState() else { return }
    for (state, count) in counts {
        Gauge(label: "usher_mirror_jobs", dimensions: [("state", state)]).record(count)
    }
    Gauge(label: "usher_mirror_oldest_queued_job_age_seconds").record(oldest)
}

/// `usher_dependency_up{dependency}` (1 or 0) from the readiness check, read when `/metrics` is scraped: what
/// `/readyz` says, as a series an alert can watch.
func recordDependencyGauges(_ readiness: Readiness) async {
    let status = await readiness.check()
    for (dependency, up) in [("redis", status.redis), ("postgres", status.postgres), ("revocations", status.revocations)] {
        Gauge(label: "usher_dependency_up", dimensions: [("dependency", dependency)]).record(up ? 1 : 0)
    }
}
