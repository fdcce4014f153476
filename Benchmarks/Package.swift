// swift-tools-version:6.1
import PackageDescription

// Micro-benchmarks, kept out of the main package so `swift test` does not build them.
// Run: cd Benchmarks && swift package --allow-writing-to-package-directory benchmark
let package = Package(
    name: "usher-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "usher", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.0", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
    ],
    targets: [
        .executableTarget(
            name: "RequestCrypto",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SigV4", package: "usher"),
                .product(name: "ViewerAuth", package: "usher"),
                .product(name: "UsherCrypto", package: "usher"),
            ],
            path: "Benchmarks/RequestCrypto",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Edge",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                "FloorHandler",
                .product(name: "Delivery", package: "usher"),
                .product(name: "DeliveryTesting", package: "usher"),
                .product(name: "Gateway", package: "usher"),
                .product(name: "Postgres", package: "usher"),
                .product(name: "Redis", package: "usher"),
                .product(name: "SigV4", package: "usher"),
                .product(name: "UsherCrypto", package: "usher"),
                .product(name: "ViewerAuth", package: "usher"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            path: "Benchmarks/Edge",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // A bare SwiftNIO server: the floor under Usher's edge, for Benchmarks/load/run. Outside Benchmarks/ so that the
        // benchmark plugin does not take it for a benchmark.
        .executableTarget(
            name: "EdgeFloor",
            dependencies: [
                "FloorHandler",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Floor/EdgeFloor"
        ),
        // The floor's handler, shared by EdgeFloor and the Edge micro-benchmark's floor case.
        .target(
            name: "FloorHandler",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            path: "Floor/FloorHandler"
        ),
    ]
)
