// swift-tools-version:6.0
import PackageDescription

/// Settings every Usher module shares, declared once (as Hummingbird and postgres-nio do).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "usher",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "usher", targets: ["usher"]),
        .library(name: "UsherCrypto", targets: ["UsherCrypto"]),
        .library(name: "SigV4", targets: ["SigV4"]),
        .library(name: "ViewerAuth", targets: ["ViewerAuth"]),
        // For the fuzzing harness (Tests/Fuzz), which drives these modules' parsers.
        .library(name: "FalWebhook", targets: ["FalWebhook"]),
        .library(name: "Delivery", targets: ["Delivery"]),
        .library(name: "Gateway", targets: ["Gateway"]),
        // For the micro-benchmarks (Benchmarks/), which build the edge as production does, over in-memory stores.
        .library(name: "Redis", targets: ["Redis"]),
        .library(name: "Postgres", targets: ["Postgres"]),
        // The in-memory stores, for the micro-benchmarks (as HummingbirdTesting is a product of Hummingbird).
        .library(name: "DeliveryTesting", targets: ["DeliveryTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.10.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.25.0"),
    ],
    targets: [
        // C libraries from Debian, each imported by exactly one Swift module.
        .systemLibrary(
            name: "CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        .systemLibrary(
            name: "CHiredis", pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"]), .brew(["hiredis"])]
        ),
        .systemLibrary(
            name: "CLibPQ", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),

        .target(name: "UsherCrypto", dependencies: ["CCrypto"], swiftSettings: swiftSettings),
        // How an address is written (`host[:port]`, URL authorities, allow-list entries) and which IPs are internal.
        .target(name: "HostAddress", swiftSettings: swiftSettings),
        .target(name: "SigV4", dependencies: ["UsherCrypto", "HostAddress"], swiftSettings: swiftSettings),
        .target(name: "ViewerAuth", dependencies: ["UsherCrypto"], swiftSettings: swiftSettings),
        // The domain core: what a generation, a share and a revocation are, and the services that read and write them
        // (lookup, generations, shares, revocations, deletion and retention) through the storage protocols that
        // `Redis`, `Postgres` and the mirror's S3 client implement. Knows no sockets, no SQL and no Redis.
        .target(
            name: "Delivery",
            dependencies: [
                "ViewerAuth", "UsherCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Redis",
            dependencies: [
                "CHiredis", "Delivery", "HostAddress", "UsherCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ", "Delivery", "UsherCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("Migrations")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "HostAddress", "Delivery", "SigV4", "ViewerAuth", "Redis", "Postgres", "UsherCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "FalWebhook", dependencies: ["UsherCrypto"], swiftSettings: swiftSettings),
        .target(
            name: "Mirror",
            dependencies: [
                "HostAddress", "Delivery", "Postgres", "SigV4", "UsherCrypto", "FalWebhook",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AppServer",
            dependencies: [
                "Delivery", "Gateway", "Mirror", "FalWebhook", "Postgres", "SigV4", "UsherCrypto", "ViewerAuth",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            // The API's one description, compiled into the binary and served at GET /openapi.yaml.
            resources: [.embedInCode("openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "UsherServer",
            dependencies: [
                "HostAddress", "AppServer", "Delivery", "Gateway", "Mirror", "Postgres", "Redis", "SigV4", "ViewerAuth",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "UsherCLI",
            dependencies: [
                "UsherServer", "SigV4", "ViewerAuth", "UsherCrypto", "Delivery", "Gateway", "Mirror", "Postgres", "Redis",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "usher",
            dependencies: ["UsherCLI"],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "UsherTestSupport", path: "Tests/UsherTestSupport",
            swiftSettings: swiftSettings),
        .testTarget(name: "UsherCryptoTests", dependencies: ["UsherCrypto"], swiftSettings: swiftSettings),
        .testTarget(name: "HostAddressTests", dependencies: ["HostAddress"], swiftSettings: swiftSettings),
        .testTarget(name: "SigV4Tests", dependencies: ["SigV4", "UsherCrypto", "UsherTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ViewerAuthTests", dependencies: ["ViewerAuth", "UsherCrypto", "UsherTestSupport"], swiftSettings: swiftSettings),
        // In-memory stand-ins for Redis and Postgres behind the domain's storage protocols: the stack-free tests.
        .target(
            name: "DeliveryTesting",
            dependencies: [
                "Delivery",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/DeliveryTesting",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeliveryTests",
            dependencies: [
                "Delivery", "DeliveryTesting", "Gateway", "SigV4", "ViewerAuth", "UsherCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ServerTestSupport",
            dependencies: [
                "UsherServer", "Delivery", "Gateway", "Postgres", "SigV4", "UsherCrypto", "ViewerAuth", "UsherTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/ServerTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "ServerTestSupport", "UsherTestSupport", "UsherServer", "Delivery", "DeliveryTesting", "Gateway", "UsherCrypto", "ViewerAuth",
                "Postgres",
                "Redis", "SigV4",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorTests",
            dependencies: [
                "ServerTestSupport", "UsherTestSupport", "UsherServer", "Mirror", "FalWebhook", "Postgres", "SigV4", "UsherCrypto", "Delivery",
                "HostAddress",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "UsherCLITests", dependencies: ["UsherCLI", "UsherTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "AppServerTests",
            dependencies: [
                "AppServer", "Delivery", "DeliveryTesting", "Gateway", "Postgres", "Redis", "SigV4", "Mirror",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
