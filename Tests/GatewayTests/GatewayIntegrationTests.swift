import Foundation
import ServerTestSupport
import Testing
import UsherTestSupport

/// `/v/{id}` and the admin API against real redis-server, PostgreSQL and SeaweedFS. Serialized: some tests
/// stop and restart the stack's Redis and PostgreSQL.
@Suite(.enabled(if: LocalStack.isRunning, LocalStack.skipReason), .serialized)
struct GatewayIntegrationTests {
    static let video = Data((0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 11) })

    /// Registers a COMPLETED private video whose object really is in the bucket.
    func privateVideo(_ server: TestServer, owner: String = "app-1") async throws -> (id: String, key: String) {
        let id = try await server.registerVideo(uniqueID(), owner: owner, upload: Self.video)
        return (id, "videos/\(id).mp4")
    }

    @Test func privateVideoRedirectsToAWorkingPresignedURL() async throws {
        let server = try await TestServer.start()
        let (id, key) = try await privateVideo(server)
        let token = try server.token(videoIDs: [id])

        for url in ["\(server.edgeURL)/v/\(id)?token=\(token)"] {
            let redirect = try await TestHTTP.request(url)
            #expect(redirect.status == 302)
            #expect(redirect.body.isEmpty)
            #expect(redirect.header("Content-Length") == "0")
            #expect(redirect.header("Referrer-Policy") == "no-referrer")
            #expect(redirect.header("Date")?.hasSuffix(" GMT") == true)
            let maxAge = redirect.header("Cache-Control").flatMap { Int($0.replacingOccurrences(of: "private, max-age=", with: "")) }
            #expect(maxAge.map { (835...840).contains($0) } == true, "Cache-Control: \(redirect.header("Cache-Control") ?? "-")")
            let location = try #require(redirect.header("Location"))
            #expect(location.contains("/usher/\(key)?"))
            #expect(location.contains("X-Amz-Expires=900&"))

            let object = try await TestHTTP.request(location)
            #expect(object.status == 200)
            #expect(object.body == Self.video)
            let range = try await TestHTTP.request(location, headers: [("Range", "bytes=1000-1999")])
            #expect(range.status == 206)
            #expect(range.body == Self.video[1000..<2000])
        }

        // The same through the Authorization header and the cookie; HEAD answers like GET without a body.
        let viaHeader = try await TestHTTP.request("\(server.edgeURL)/v/\(id)", headers: [("Authorization", "Bearer \(token)")])
        #expect(viaHeader.status == 302)
        let viaCookie = try await TestHTTP.request("\(server.edgeURL)/v/\(id)", headers: [("Cookie", "theme=dark; usher_token=\(token)")])
        #expect(viaCookie.status == 302)
        let head = try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)", method: "HEAD")
        #expect(head.status == 302)
        #expect(head.header("Location")?.contains("/usher/\(key)?") == true)
        #expect(head.header("Cache-Control")?.hasPrefix("private, max-age=") == true)

        // An owner-scoped token opens every video of that owner, and only those.
        let ownerToken = try server.token(owner: "app-1")
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(ownerToken)").status == 302)
        let otherOwner = try server.token(owner: "app-2")
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(otherOwner)").status == 403)

        // download=1 asks S3 for an attachment named after the key; the URL still works.
        let download = try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)&download=1&filename=my%20clip.mp4")
        #expect(download.status == 302)
        let downloadLocation = try #require(download.header("Location"))
        #expect(downloadLocation.contains("response-content-disposition=attachment%3B%20filename%3D%22my%20clip.mp4%22"))
        let attachment = try await TestHTTP.request(downloadLocation)
        #expect(attachment.status == 200)
        #expect(attachment.header("Content-Disposition")?.hasPrefix("attachment;") == true)
        try await server.stop()
    }

    /// With PRESIGN_WINDOW every `/v` of a video in one window answers the same URL, signed at the window's start
    /// (since WindowedURLs, from the edge's table after the first): SeaweedFS serves the repeated one, and each
    /// answer's Cache-Control stays within what the URL has left. `EdgeCacheTests` shows the table is what serves it.
    @Test func aSigningWindowsURLIsReusedAndWorks() async throws {
        let server = try await TestServer.start(["PRESIGN_WINDOW": "3600"])
        let (id, _) = try await privateVideo(server)
        let token = try server.token(videoIDs: [id])
        var answers: [(location: String, maxAge: Int?)] = []
        for _ in 0..<3 {
            let redirect = try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)")
            #expect(redirect.status == 302)
            let maxAge = redirect.header("Cache-Control").flatMap { Int($0.replacingOccurrences(of: "private, max-age=", with: "")) }
            answers.append((try #require(redirect.header("Location")), maxAge))
        }
        let query = { (location: String) in URLComponents(string: location)?.queryItems ?? [] }
        for (location, maxAge) in answers {
            let items = query(location)
            let signedAt = try #require(items.first { $0.name == "X-Amz-Date" }?.value)
            #expect(items.first { $0.name == "X-Amz-Expires" }?.value == "4500", "TTL + window")
            // Signed at the window's start (a whole hour), and valid until an hour and a quarter after it.
            #expect(signedAt.hasSuffix("0000Z"), "\(signedAt)")
            let expiresIn = try #require(maxAge)
            #expect((900 - 60 - 5...4500 - 60).contains(expiresIn), "max-age \(expiresIn)")
        }
        // The same window (the hour did not turn between the requests): the same URL, every time.
        if Set(answers.map { query($0.location).first { $0.name == "X-Amz-Date" }?.value }).count == 1 {
            #expect(Set(answers.map(\.location)).count == 1, "\(answers.map(\.location))")
        }
        let object = try await TestHTTP.request(try #require(answers.last?.location))
        #expect(object.status == 200)
        #expect(object.body == Self.video)
        try await server.stop()
    }

    @Test func publicVideoRedirectsUnsignedToThePublicBase() async throws {
        let server = try await TestServer.start(["PUBLIC_BASE_URL": "https://cdn.example.com/"])
        let id = uniqueID()
        let created = try await server.register(#"{"request_id":"\#(id)","visibility":"public","object_key":"videos/a b+c.mp4"}"#)
        #expect(created.status == 201)
        #expect(String(decoding: created.body, as: UTF8.self).contains(#""cdn_url":"https://cdn.example.com/videos/a%20b%2Bc.mp4""#))
        for suffix in ["", "?token=not-even-a-jwt"] {
            // Public: no token needed, and tokens are ignored (not even checked)... except malformed ones are refused first.
            let reply = try await TestHTTP.request("\(server.edgeURL)/v/\(id)\(suffix)")
            if suffix.isEmpty {
                #expect(reply.status == 302)
                #expect(reply.header("Location") == "https://cdn.example.com/videos/a%20b%2Bc.mp4")
                #expect(reply.header("Cache-Control") == "public, max-age=3600")
            } else {
                #expect(reply.status == 401)
            }
        }
        try await server.stop()
    }

    @Test func everyErrorHasItsStatusAndProblemBody() async throws {
        let server = try await TestServer.start()
        let (id, _) = try await privateVideo(server)
        let token = try server.token(videoIDs: [id])
        let edge = server.edgeURL

        func expectProblem(
            _ path: String, headers: [(String, String)] = [], status: Int, type: String, sourceLocation: SourceLocation = #_sourceLocation
        ) async throws -> HTTPResult {
            let reply = try await TestHTTP.request(edge + path, headers: headers)
            #expect(reply.status == status, "\(path)", sourceLocation: sourceLocation)
            #expect(reply.header("Content-Type") == "application/problem+json", sourceLocation: sourceLocation)
            let body = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
            #expect(body?["status"] as? Int == status, sourceLocation: sourceLocation)
            #expect((body?["type"] as? String)?.hasSuffix(type) == true, sourceLocation: sourceLocation)
            #expect(body?["title"] is String && body?["detail"] is String, sourceLocation: sourceLocation)
            #expect(!String(decoding: reply.body, as: UTF8.self).contains(token), "a token leaked into an error body", sourceLocation: sourceLocation)
            return reply
        }

        _ = try await expectProblem("/v/bad%20id", status: 404, type: "not-found")
        _ = try await expectProblem("/v/..", status: 404, type: "not-found")
        _ = try await expectProblem("/v/" + String(repeating: "a", count: 129), status: 404, type: "not-found")
        let forged = try await expectProblem("/v/\(id)?token=\(token.dropLast(2))xx", status: 401, type: "invalid-token")
        #expect(forged.header("WWW-Authenticate") == #"Bearer realm="usher", error="invalid_token""#)
        // A forged token on an unknown id is still a 401: tokens are checked before any lookup.
        _ = try await expectProblem("/v/\(uniqueID())?token=x.y.z", status: 401, type: "invalid-token")
        _ = try await expectProblem("/v/\(uniqueID())?token=\(token)", status: 404, type: "not-found")
        let missing = try await expectProblem("/v/\(id)", status: 401, type: "token-required")
        #expect(missing.header("WWW-Authenticate") == #"Bearer realm="usher""#)
        _ = try await expectProblem("/v/\(id)?token=\(try server.token(videoIDs: ["someone-else"]))", status: 403, type: "not-in-scope")
        let expired = try server.token(videoIDs: [id], ttl: -60)
        _ = try await expectProblem("/v/\(id)?token=\(expired)", status: 401, type: "invalid-token")
        _ = try await expectProblem("/v/\(id)?token=\(token)&download=yes", status: 400, type: "bad-download")
        _ = try await expectProblem("/nothing-here", status: 404, type: "not-found")
        _ = try await expectProblem("/v/\(id)?pad=" + String(repeating: "x", count: 8200), status: 414, type: "uri-too-long")

        let pending = uniqueID()
        #expect(try await server.register(#"{"request_id":"\#(pending)","owner":"app-1"}"#).status == 201)
        let notReady = try await expectProblem("/v/\(pending)?token=\(try server.token(owner: "app-1"))", status: 503, type: "not-ready")
        #expect(notReady.header("Retry-After") == "5")

        try await server.setRow(id, "status = 'FAILED', last_error = 'gone'")
        _ = try await expectProblem("/v/\(id)?token=\(token)", status: 410, type: "gone")
        try await server.stop()
    }

    @Test func originFallbackRedirectsToFalWhileMirroring() async throws {
        let server = try await TestServer.start(["USHER_ORIGIN_FALLBACK": "1"])
        let id = uniqueID()
        #expect(try await server.register(#"{"request_id":"\#(id)","owner":"o"}"#).status == 201)
        try await server.setRow(id, "status = 'MIRRORING', fal_url = $2", ["https://v3.fal.media/files/x/video.mp4"])
        let reply = try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(try server.token(videoIDs: [id]))")
        #expect(reply.status == 302)
        #expect(reply.header("Location") == "https://v3.fal.media/files/x/video.mp4")
        #expect(reply.header("Cache-Control") == "no-store")
        try await server.stop()
    }

    @Test func adminAPIRegistersIdempotentlyAndValidates() async throws {
        let server = try await TestServer.start()
        let id = uniqueID()
        let body = #"{"request_id":"\#(id)","owner":"app-9","visibility":"private"}"#
        let first = try await server.register(body)
        #expect(first.status == 201)
        let again = try await server.register(body)
        #expect(again.status == 200)
        #expect(again.body == first.body)
        let conflict = try await server.register(#"{"request_id":"\#(id)","owner":"app-10","visibility":"private"}"#)
        #expect(conflict.status == 409)
        #expect(conflict.header("Content-Type") == "application/problem+json")

        let shown = try await TestHTTP.request(
            "\(server.appURL)/v1/generations/\(id)", headers: [("Authorization", "Bearer \(TestServer.adminToken)")])
        #expect(shown.status == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: shown.body) as? [String: Any])
        #expect(json["status"] as? String == "PENDING")
        #expect(json["owner"] as? String == "app-9")
        for field in ["fal_url", "cdn_url", "object_key", "mirrored_at", "last_error"] { #expect(json[field] is NSNull, "\(field) should be null") }
        #expect(json["attempts"] as? Int == 0)

        for (body, why) in [
            ("{", "malformed JSON"), (#"{"owner":"x"}"#, "no request_id"), (#"{"request_id":"a b"}"#, "bad id"),
            (#"{"request_id":"ok-1","visibility":"secret"}"#, "bad visibility"), (#"{"request_id":"ok-2","object_key":""}"#, "empty key"),
            (#"{"request_id":"ok-3","owner":""}"#, "empty owner"),
            (#"{"request_id":"ok-4","owner":"\#(String(repeating: "o", count: 257))"}"#, "owner over 256 bytes"),
            (#"{"request_id":"ok-5","object_key":"\#(String(repeating: "k", count: 1025))"}"#, "key over 1024 bytes"),
        ] {
            let reply = try await server.register(body)
            #expect(reply.status == 400, "\(why)")
            #expect(reply.header("Content-Type") == "application/problem+json", "\(why)")
        }
        // The limits themselves are accepted.
        let longest =
            #"{"request_id":"\#(uniqueID())","owner":"\#(String(repeating: "o", count: 256))","visibility":"private","object_key":"\#(String(repeating: "k", count: 1024))"}"#
        #expect(try await server.register(longest).status == 201)
        #expect(try await server.register(body, token: "wrong").status == 401)
        let noAuth = try await TestHTTP.request("\(server.appURL)/v1/generations/\(id)")
        #expect(noAuth.status == 401)
        #expect(
            try await TestHTTP.request(
                "\(server.appURL)/v1/generations/\(uniqueID())", headers: [("Authorization", "Bearer \(TestServer.adminToken)")]
            ).status == 404)

        // Hummingbird's own refusals are problem+json too (CONTRACT: errors on /v1 are problem+json).
        let admin = [("Authorization", "Bearer \(TestServer.adminToken)"), ("Content-Type", "application/json")]
        let unknownRoute = try await TestHTTP.request("\(server.appURL)/v1/nothing-here", headers: admin)
        #expect(unknownRoute.status == 404 && unknownRoute.header("Content-Type") == "application/problem+json")
        #expect(String(decoding: unknownRoute.body, as: UTF8.self).contains(#""status":404"#))
        let huge = try await TestHTTP.request(
            "\(server.appURL)/v1/generations", method: "POST", headers: admin, body: Data(repeating: UInt8(ascii: " "), count: 2 << 20))
        #expect(huge.status == 413 && huge.header("Content-Type") == "application/problem+json", "\(huge.status)")
        try await server.stop()
    }

    @Test func registrationReplacesANegativeCacheEntry() async throws {
        let server = try await TestServer.start()
        let id = uniqueID()
        let key = "videos/\(id).mp4"
        try await server.upload(key: key, bytes: Self.video)
        let token = try server.token(videoIDs: [id])
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 404)
        #expect(try await server.register(#"{"request_id":"\#(id)","visibility":"private","object_key":"\#(key)"}"#).status == 201)
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302)
        try await server.stop()
    }

    @Test func healthAndMetrics() async throws {
        let server = try await TestServer.start()
        for base in [server.edgeURL, server.appURL] {
            #expect(try await TestHTTP.request(base + "/healthz").status == 200)
            let ready = try await TestHTTP.request(base + "/readyz")
            #expect(ready.status == 200, "\(String(decoding: ready.body, as: UTF8.self))")
        }
        _ = try await TestHTTP.request(server.edgeURL + "/v/\(uniqueID())")
        let metrics = String(decoding: try await TestHTTP.request(server.appURL + "/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"usher_http_requests_total{listener="edge",route="/v",status="404"}"#))
        #expect(metrics.contains("usher_http_request_duration_seconds_bucket"))
        #expect(metrics.contains(#"usher_cache_lookups_total{layer="postgres",result="miss"}"#))
        // CONTRACT § Operations: the app listener's own requests, presigns and the mirror queue by state.
        #expect(metrics.contains(#"usher_http_requests_total{listener="app",route="/readyz",status="200"}"#))
        #expect(metrics.contains(#"usher_http_request_duration_seconds_bucket{listener="app",route="/readyz""#))
        #expect(try await TestHTTP.request(server.appURL + "/no-such-page").status == 404)
        let (id, _) = try await privateVideo(server)
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(try server.token(videoIDs: [id]))").status == 302)
        let after = String(decoding: try await TestHTTP.request(server.appURL + "/metrics").body, as: UTF8.self)
        #expect(after.contains(#"usher_http_requests_total{listener="app",route="other",status="404"}"#))
        #expect(after.contains("usher_presigns_total "))
        for state in ["running", "queued", "waiting"] { #expect(after.contains(#"usher_mirror_jobs{state="\#(state)"}"#)) }
        try await server.stop()
    }

    @Test func redisDownFallsBackToPostgresAndRecovers() async throws {
        let server = try await TestServer.start(["USHER_LOCAL_CACHE_TTL": "0"])
        let (id, _) = try await privateVideo(server)
        let token = try server.token(videoIDs: [id])
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302)

        try await LocalStack.whileStopped("redis") {
            for _ in 0..<5 {
                #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302)
            }
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await TestHTTP.request(server.edgeURL + "/readyz").status == 503)
        }

        // Back without a restart: the reconnect backoff tops out at 2 s.
        #expect(try await LocalStack.eventually { try await TestHTTP.request(server.edgeURL + "/readyz").status == 200 })
        let before = try await redisHits(server)
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302)
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302)
        #expect(try await redisHits(server) > before, "Redis is not used again after it came back")
        try await server.stop()
    }

    func redisHits(_ server: TestServer) async throws -> Double {
        let metrics = String(decoding: try await TestHTTP.request(server.appURL + "/metrics").body, as: UTF8.self)
        let line = metrics.split(separator: "\n").first { $0.hasPrefix(#"usher_cache_lookups_total{layer="redis",result="hit"}"#) }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test func postgresDownStillServesWhatRedisKnows() async throws {
        let server = try await TestServer.start(["USHER_LOCAL_CACHE_TTL": "0"])
        let (id, _) = try await privateVideo(server)
        let token = try server.token(videoIDs: [id])
        #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302)

        try await LocalStack.whileStopped("postgres") {
            #expect(try await TestHTTP.request("\(server.edgeURL)/v/\(id)?token=\(token)").status == 302)
            let unknown = try await TestHTTP.request("\(server.edgeURL)/v/\(uniqueID())?token=\(token)")
            #expect(unknown.status == 503)
            #expect(unknown.header("Retry-After") != nil)
            let admin = try await server.register(#"{"request_id":"\#(uniqueID())"}"#)
            #expect(admin.status == 503)
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await TestHTTP.request(server.edgeURL + "/readyz").status == 503)
        }
        let healed = try await LocalStack.eventually { try await server.register(#"{"request_id":"\#(uniqueID())"}"#).status == 201 }
        #expect(healed, "the pool did not reconnect to PostgreSQL")
        try await server.stop()
    }

    @Test func twoServersStartingAtOnceBothMigrate() async throws {
        async let first = TestServer.start()
        async let second = TestServer.start()
        let (a, b) = try await (first, second)
        #expect(try await TestHTTP.request(a.edgeURL + "/healthz").status == 200)
        #expect(try await TestHTTP.request(b.edgeURL + "/healthz").status == 200)
        try await a.stop()
        try await b.stop()
    }
}
