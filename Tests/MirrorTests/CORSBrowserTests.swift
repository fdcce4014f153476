import Foundation
import ServerTestSupport
import Testing
import UsherTestSupport

/// CONTRACT § CORS in headless Chromium, against the real servers: a page on `http://127.0.0.2:P` (listed in
/// `USHER_CORS_ORIGINS`) reads `/v` on `http://127.0.0.1:E` through the preflight, the 302 and the bucket's own CORS
/// rules (which `deploy/local/stack` applies to SeaweedFS), and a page on `http://127.0.0.3:P` (not listed) gets
/// nothing. The decisions and bytes alone: `Tests/GatewayTests/CORSTests.swift`.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct CORSBrowserTests {
    struct Request: Encodable {
        var edge: String
        var port: Int
        var allowed_host = "127.0.0.2"
        var unlisted_host = "127.0.0.3"
        var video: String
        var token: String
        var timeout: Double = 20
    }

    struct Canvas: Decodable {
        var drawn: Bool
        var pixel_sum: Int?
        var width: Int?
        var error: String?
    }

    struct Fetched: Decodable {
        var status: Int?
        var redirected: Bool?
        var final_host: String?
        var hex: String?
        var error: String?
    }

    struct Problem: Decodable {
        var status: Int?
        var content_type: String?
        var www_authenticate: String?
        var body: String?
        var error: String?
    }

    struct Results: Decodable {
        var canvas: Canvas
        var range_fetch: Fetched
        var bad_token: Problem
        var missing_token: Problem
        var unlisted_fetch: Fetched
        var unlisted_bad_token: Problem
    }

    @Test func pagesOfAListedOriginReadVideosAndErrorsAndOthersReadNothing() async throws {
        let mp4 = try DemoBrowserTests.makeMP4()
        let edgePort = try freeLoopbackPort()
        let pagePort = try freeLoopbackPort()
        let server = try await TestServer.start(["USHER_LISTEN": "127.0.0.1:\(edgePort)", "USHER_CORS_ORIGINS": "http://127.0.0.2:\(pagePort)"])
        let id = try await server.registerVideo(uniqueID("cors"), upload: mp4)
        let token = try server.token(videoIDs: [id])

        let results = try await runPythonPeerDetached(
            "browser_cors.py", input: Request(edge: server.edgeURL, port: pagePort, video: "/v/\(id)", token: token), as: Results.self)

        // (a) <video crossorigin="anonymous">: a frame drawn to a canvas and read back, so the canvas is not tainted.
        #expect(results.canvas.drawn, "the canvas is tainted or the video did not load: \(results.canvas.error ?? "")")
        #expect(results.canvas.width == 640)
        #expect((results.canvas.pixel_sum ?? 0) > 0, "the frame drawn is blank")

        // (b) fetch() with a bearer token and a Range, through the preflight and the 302: the object's first KiB.
        let fetched = results.range_fetch
        #expect(fetched.error == nil, "\(fetched.error ?? "")")
        #expect(fetched.status == 206)
        #expect(fetched.redirected == true && fetched.final_host == URL(string: LocalStack.environment["S3_ENDPOINT"] ?? "")?.hostPort)
        #expect(fetched.hex == mp4.prefix(1024).map { String(format: "%02x", $0) }.joined(), "the bytes read are not the object's")

        // (c) errors are readable: status, problem+json and why the token failed.
        for (problem, challenge) in [
            (results.bad_token, #"Bearer realm="usher", error="invalid_token""#), (results.missing_token, #"Bearer realm="usher""#),
        ] {
            #expect(problem.error == nil, "\(problem.error ?? "")")
            #expect(problem.status == 401)
            #expect(problem.content_type == "application/problem+json")
            #expect(problem.www_authenticate == challenge)
            let body = try JSONSerialization.jsonObject(with: Data((problem.body ?? "").utf8)) as? [String: Any]
            #expect(body?["status"] as? Int == 401)
        }

        // (d) an unlisted origin reads nothing: neither the video nor an error.
        #expect(results.unlisted_fetch.status == nil && results.unlisted_fetch.error?.contains("TypeError") == true, "\(results.unlisted_fetch)")
        #expect(results.unlisted_bad_token.status == nil && results.unlisted_bad_token.error?.contains("TypeError") == true)

        // The preflights were answered by the edge (204), and counted as such rather than as plays.
        let metrics = String(decoding: try await TestHTTP.request(server.appURL + "/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"usher_http_requests_total{listener="edge",route="/v",status="204"}"#), "no preflight was counted")
        try await server.stop()
    }
}

extension URL {
    fileprivate var hostPort: String? { host.map { h in port.map { "\(h):\($0)" } ?? h } }
}
