// swift-tools-version:6.0
import PackageDescription

// vapor/jwt-kit as an independent peer for viewer tokens (as Tests/Support/pyjwt_tokens.py is for PyJWT), kept out of
// the main package so that production never builds swift-crypto. Build: Tests/Interop/build (prints the binary's
// path, which the test command hands to LibraryTokenCrossCheckTests as USHER_JWTKIT_MINT).
let package = Package(
    name: "usher-interop",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1")
    ],
    targets: [
        .executableTarget(
            name: "jwtkit-mint",
            dependencies: [.product(name: "JWTKit", package: "jwt-kit")],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        )
    ],
    swiftLanguageModes: [.v6]
)
