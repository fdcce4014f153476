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
        .executableTarget(
            name: "FuzzToken",
            dependencies: [.product(name: "ViewerAuth", package: "usher"), .product(name: "UsherCrypto", package: "usher")],
            swiftSettings: fuzzer),
        .executableTarget(
            name: "FuzzWebhook",
            dependencies: [.product(name: "FalWebhook", package: "usher"), .product(name: "UsherCrypto", package: "usher")],
            swiftSettings: fuzzer),
        .executableTarget(
            name: "FuzzEdgeRequest",
            dependencies: [.product(name: "Gateway", package: "usher"), .product(name: "NIOHTTP1", package: "swift-nio")],
            swiftSettings: fuzzer),
        .executableTarget(
            name: "FuzzSigV4",
            dependencies: [.product(name: "SigV4", package: "usher")],
            swiftSettings: fuzzer),
    ]
)
