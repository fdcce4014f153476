// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for Usher's parsers and verifiers, kept out of the main package (they only link with
// `-sanitize=fuzzer`). Build and run: Tests/Fuzz/run (see README § Fuzzing).
let fuzzer: [SwiftSetting] = [.enableUpcomingFeature("InternalImportsByDefault")]

let package = Package(
    name: "usher-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "usher", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
    ],
    targets: [
        .target(name: "FuzzSupport", swiftSettings: fuzzer),
        .executableTarget(
            name: "FuzzToken",
            dependencies: ["FuzzSupport", .product(name: "ViewerAuth", package: "usher"), .product(name: "UsherCrypto", package: "usher")],
            swiftSettings: fuzzer),
        .executableTarget(
            name: "FuzzWebhook",
            dependencies: ["FuzzSupport", .product(name: "FalWebhook", package: "usher"), .product(name: "UsherCrypto", package: "usher")],
            swiftSettings: fuzzer),
        .executableTarget(
            name: "FuzzEdgeRequest",
            dependencies: [
                "FuzzSupport", .product(name: "Delivery", package: "usher"), .product(name: "Gateway", package: "usher"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: fuzzer),
        .executableTarget(
            name: "FuzzEdgeConnection",
            dependencies: [
                "FuzzSupport", .product(name: "Gateway", package: "usher"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: fuzzer),
        .executableTarget(
            name: "FuzzEdgeDecoder",
            dependencies: [
                "FuzzSupport", .product(name: "Gateway", package: "usher"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: fuzzer),
        .executableTarget(
            name: "FuzzSigV4",
            dependencies: ["FuzzSupport", .product(name: "SigV4", package: "usher")],
            swiftSettings: fuzzer),
    ]
)
