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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
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
        .target(name: "SigV4", dependencies: ["UsherCrypto"], swiftSettings: swiftSettings),
        .target(name: "ViewerAuth", dependencies: ["UsherCrypto"], swiftSettings: swiftSettings),
        .target(
            name: "UsherCLI",
            dependencies: [
                "SigV4", "ViewerAuth", "UsherCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "usher",
            dependencies: ["UsherCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "UsherTestSupport", path: "Tests/UsherTestSupport",
            swiftSettings: swiftSettings),
        .testTarget(name: "UsherCryptoTests", dependencies: ["UsherCrypto"], swiftSettings: swiftSettings),
        .testTarget(name: "SigV4Tests", dependencies: ["SigV4", "UsherCrypto", "UsherTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ViewerAuthTests", dependencies: ["ViewerAuth", "UsherCrypto", "UsherTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "UsherCLITests", dependencies: ["UsherCLI", "UsherTestSupport"], swiftSettings: swiftSettings),
    ],
    swiftLanguageModes: [.v6]
)
