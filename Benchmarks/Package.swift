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
    ],
    targets: [
        .executableTarget(
            name: "Crypto",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SigV4", package: "usher"),
                .product(name: "ViewerAuth", package: "usher"),
                .product(name: "UsherCrypto", package: "usher"),
            ],
            path: "Benchmarks/Crypto",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
