import DeliveryTesting
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import UsherServer

@testable import Gateway

/// CONTRACT § CORS on the edge's decisions and bytes, over the in-memory stores. The same in a real browser against
/// the real servers: `Tests/MirrorTests/CORSBrowserTests.swift`.
@Suite struct CORSTests {
    static let app = "http://127.0.0.2:5173"

    @Test(arguments: [
        ("*", CORSPolicy.Origins.any),
        ("https://app.example.com", .listed(["https://app.example.com"])),
        (" HTTPS://App.Example.com:8443 , http://localhost:3000", .listed(["https://app.example.com:8443", "http://localhost:3000"])),
    ])
    func originsParse(_ text: String, _ expected: CORSPolicy.Origins) throws {
        #expect(try CORSPolicy(parsing: text).origins == expected)
    }

    @Test(arguments: [
        ("", "names no origin"),
        ("https://a.example,*", "cannot be combined"),
        ("null", "sandboxed frames"),
        ("app.example.com", "not an http:// or https:// origin"),
        ("ftp://app.example.com", "not an http:// or https:// origin"),
        ("https://app.example.com/", "without a path"),
        ("https://app.example.com/player", "without a path"),
        ("https://", "without a path"),
    ])
    func badOriginsAreNamed(_ text: String, _ reason: String) {
        #expect {
            try CORSPolicy(parsing: text)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func theVariableIsReadAndABadOneIsNamed() throws {
        let configuration = try UsherConfiguration(environment: ConfigurationReader(["USHER_CORS_ORIGINS": "https://app.example.com"]), coreCount: 1)
        #expect(configuration.gateway.cors?.origins == .listed(["https://app.example.com"]))
        #expect(try UsherConfiguration(environment: ConfigurationReader([:]), coreCount: 1).gateway.cors == nil)
        #expect {
            try UsherConfiguration(environment: ConfigurationReader(["USHER_CORS_ORIGINS": "https://app.example.com/"]), coreCount: 1)
        } throws: { error in
            "\(error)".contains("USHER_CORS_ORIGINS: 'https://app.example.com/'")
        }
    }

    func headers(_ reply: EdgeReply) -> [String: String] {
        var buffer = ByteBufferAllocator().buffer(capacity: 512)
        reply.encode(into: &buffer, version: .http1_1, headOnly: false, connection: .keepAlive, date: "Thu, 03 Dec 2026 00:00:00 GMT")
        let text = buffer.readString(length: buffer.readableBytes) ?? ""
        let head = text.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n").dropFirst()
        var fields: [String: String] = [:]
        for line in head {
            let parts = line.split(separator: ":", maxSplits: 1)
            fields[String(parts[0]).lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    @Test func aPreflightIsAnsweredBeforeAnyTokenWork() async throws {
        let edge = try await EdgeServiceTests.Edge(cors: try CORSPolicy(parsing: Self.app))
        let preflight: HTTPHeaders = ["Origin": Self.app, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"]
        // A forged token and an id that does not exist: neither is looked at.
        for uri in ["/v/no-such-video?token=forged.token.value", "/s/no-such-code", "/v/.."] {
            let reply = try await edge.get(uri, method: .OPTIONS, headers: preflight)
            #expect(reply.status == .noContent)
            let fields = headers(reply)
            #expect(fields["access-control-allow-origin"] == Self.app)
            #expect(fields["access-control-allow-credentials"] == "true")
            #expect(fields["access-control-allow-methods"] == "GET, HEAD")
            #expect(fields["access-control-allow-headers"]?.lowercased().contains("authorization") == true)
            #expect(fields["access-control-max-age"] == "7200")
            #expect(fields["vary"] == "Origin")
            #expect(fields["content-length"] == nil, "RFC 9110: no Content-Length in a 204")
        }
        // An unlisted origin: 204 (the method is known) but nothing that lets its page read.
        let other = try await edge.get("/v/x", method: .OPTIONS, headers: ["Origin": "https://evil.example", "Access-Control-Request-Method": "GET"])
        #expect(other.status == .noContent)
        #expect(headers(other).keys.allSatisfy { !$0.hasPrefix("access-control-") })
    }

    @Test func everyAnswerCarriesTheGrantErrorsIncluded() async throws {
        let edge = try await EdgeServiceTests.Edge(cors: try CORSPolicy(parsing: Self.app))
        try await edge.fixture.registerCompleted("vid-1")
        let origin: HTTPHeaders = ["Origin": Self.app]
        let token = try edge.token(["vid-1"])
        let cases: [(String, HTTPResponseStatus)] = [
            ("/v/vid-1?token=\(token)", .found), ("/v/vid-1", .unauthorized), ("/v/vid-1?token=forged.token.value", .unauthorized),
            ("/v/vid-1?token=\(try edge.token(["other"]))", .forbidden), ("/v/missing?token=\(token)", .notFound), ("/v/..", .notFound),
            ("/s/no-such-code", .notFound),
        ]
        for (uri, status) in cases {
            let reply = try await edge.get(uri, headers: origin)
            #expect(reply.status == status, "\(uri)")
            let fields = headers(reply)
            #expect(fields["access-control-allow-origin"] == Self.app, "\(uri)")
            #expect(fields["access-control-expose-headers"] == "Retry-After, WWW-Authenticate", "\(uri)")
            #expect(fields["vary"] == "Origin", "\(uri)")
        }
        // No Origin (a plain <video src>): the answer still varies by Origin, and grants nothing.
        let plain = headers(try await edge.get("/v/vid-1?token=\(token)"))
        #expect(plain["vary"] == "Origin" && plain["access-control-allow-origin"] == nil)
        // Health checks are not CORS resources.
        #expect(headers(try await edge.get("/healthz", headers: origin))["access-control-allow-origin"] == nil)
    }

    /// The configured entry is written back, never the bytes received; only ASCII case is folded.
    @Test func theGrantEchoesTheConfiguredOrigin() async throws {
        let edge = try await EdgeServiceTests.Edge(cors: try CORSPolicy(parsing: "https://kino.example"))
        let upper = headers(try await edge.get("/v/x", headers: ["Origin": "HTTPS://KINO.EXAMPLE"]))
        #expect(upper["access-control-allow-origin"] == "https://kino.example")
        let kelvin = headers(try await edge.get("/v/x", headers: ["Origin": "https://\u{212A}ino.example"]))
        #expect(kelvin["access-control-allow-origin"] == nil)
        // OPTIONS elsewhere than /v and /s is not a preflight.
        #expect(try await edge.get("/healthz", method: .OPTIONS, headers: ["Origin": "https://kino.example"]).status == .methodNotAllowed)
    }

    @Test func aWildcardNeverGrantsToARequestWithCookies() async throws {
        let edge = try await EdgeServiceTests.Edge(cors: try CORSPolicy(parsing: "*"))
        try await edge.fixture.registerCompleted("vid-1")
        let token = try edge.token(["vid-1"])
        let open = headers(try await edge.get("/v/vid-1?token=\(token)", headers: ["Origin": "https://any.example"]))
        #expect(open["access-control-allow-origin"] == "*" && open["access-control-allow-credentials"] == nil)
        let withCookie = try await edge.get("/v/vid-1", headers: ["Origin": "https://any.example", "Cookie": "usher_token=\(token)"])
        #expect(withCookie.status == .found)
        #expect(headers(withCookie)["access-control-allow-origin"] == nil)
    }

    @Test func withoutCORSOptionsIsNotAllowedAndNothingIsAdded() async throws {
        let edge = try await EdgeServiceTests.Edge()
        let reply = try await edge.get("/v/x", method: .OPTIONS, headers: ["Origin": Self.app, "Access-Control-Request-Method": "GET"])
        #expect(reply.status == .methodNotAllowed)
        let fields = headers(try await edge.get("/v/x", headers: ["Origin": Self.app]))
        #expect(fields["vary"] == nil && fields["access-control-allow-origin"] == nil)
    }
}
