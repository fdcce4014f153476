import Foundation
import NIOCore
import NIOEmbedded
import Testing
import ViewerAuth

@testable import Delivery
@testable import Gateway
@testable import SigV4

/// The per-loop caches behind `/v`: verified tokens (`TokenCache`), records (`LocalCache`) and, with `PRESIGN_WINDOW`,
/// the window's URLs (`WindowedURLs`).
@Suite struct EdgeCacheTests {
    private static let grant = ViewerGrant(subject: "viewer", tokenID: nil, videoIDs: ["vid-1"], owner: nil, expiresAt: 2_000)

    private static func signature(of token: String) -> Substring { TokenCache.signature(of: token[...]) }

    /// The key is made from what follows the token's last dot, wherever the token lies in a longer string.
    @Test func theSignatureIsWhatFollowsTheLastDot() {
        #expect(TokenCache.signature(of: "a.b.sig") == "sig")
        #expect(TokenCache.signature(of: "nodot") == "nodot")
        #expect(TokenCache.signature(of: "a.b.") == "")
        #expect(TokenCache.signature(of: ".") == "")
        #expect(TokenCache.signature(of: "") == "")
        let query = "token=h.p.s1g&x=y.z"
        let token = query.dropFirst(6).prefix(7)
        #expect(token == "h.p.s1g" && TokenCache.signature(of: token) == "s1g")
    }

    @Test func aCachedGrantIsReturnedOnlyForTheExactTokenVerified() {
        let cache = TokenCache(capacity: 10)
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJ2aWQiOiJ2aWQtMSJ9.SIGNATURE-0123456789abcdefXYZ"
        cache.store(Self.grant, token: token, validUntil: 2_030, now: 1_000)
        #expect(cache.grant(for: token[...], signature: Self.signature(of: token), now: 1_000) == Self.grant)
        // Same signature (and so the same key), another payload: a forgery riding a cached signature.
        let forged = "eyJhbGciOiJIUzI1NiJ9.eyJ2aWQiOiJ2aWQtMiJ9.SIGNATURE-0123456789abcdefXYZ"
        #expect(cache.grant(for: forged[...], signature: Self.signature(of: forged), now: 1_000) == nil)
        // Same first 16 signature bytes, different signature: a key collision still compares the whole token.
        let collided = "eyJhbGciOiJIUzI1NiJ9.eyJ2aWQiOiJ2aWQtMSJ9.SIGNATURE-0123456789abcdefXYQ"
        #expect(cache.grant(for: collided[...], signature: Self.signature(of: collided), now: 1_000) == nil)
        // The genuine token is still served after both misses.
        #expect(cache.grant(for: token[...], signature: Self.signature(of: token), now: 1_029) == Self.grant)
    }

    /// `String ==` is canonical equivalence: U+212A KELVIN SIGN equals `K`. A token that differs from the verified
    /// one only by such a substitution (same signature, so the same key) must miss the cache.
    @Test func cachedTokensAreComparedByBytesNotByUnicodeEquivalence() {
        let cache = TokenCache(capacity: 10)
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJ2aWQiOiJ2aWQtMSJ9K.SIGNATURE-0123456789abcdefXYZ"
        cache.store(Self.grant, token: token, validUntil: 2_030, now: 1_000)
        let kelvin = token.replacingOccurrences(of: "J9K.", with: "J9\u{212A}.")
        #expect(kelvin.utf8.count == token.utf8.count + 2, "other bytes")
        #expect(kelvin == token, "yet Swift's String == calls them equal, which was the hole")
        #expect(cache.grant(for: kelvin[...], signature: Self.signature(of: kelvin), now: 1_000) == nil)
        #expect(cache.grant(for: token[...], signature: Self.signature(of: token), now: 1_000) == Self.grant)
    }

    @Test func tokensLeaveAtTheirExpiry() {
        let cache = TokenCache(capacity: 10)
        let token = "a.b.0123456789abcdef0123"
        cache.store(Self.grant, token: token, validUntil: 2_030, now: 1_000)
        #expect(cache.grant(for: token[...], signature: Self.signature(of: token), now: 2_030) == nil)
        #expect(cache.count == 0)
    }

    @Test func shortSignaturesAreKeyedByEveryByte() {
        #expect(TokenCache.Key(signature: "abc") == TokenCache.Key(signature: "abc"))
        #expect(TokenCache.Key(signature: "abc") != TokenCache.Key(signature: "abd"))
        #expect(TokenCache.Key(signature: "") != TokenCache.Key(signature: "a"))
        let cache = TokenCache(capacity: 10)
        cache.store(Self.grant, token: "a.b.c", validUntil: 2_030, now: 1_000)
        #expect(cache.grant(for: "a.b.c", signature: "c", now: 1_000) == Self.grant)
        #expect(cache.grant(for: "a.b.d", signature: "d", now: 1_000) == nil)
    }

    @Test func theTokenCacheStaysWithinItsCapacity() {
        let cache = TokenCache(capacity: 3)
        for n in 0..<10 {
            let token = "h.p.signature-\(n)-padding-to-make-it-long"
            cache.store(Self.grant, token: token, validUntil: 2_030, now: 1_000)
            #expect(cache.count <= 3)
            #expect(cache.grant(for: token[...], signature: Self.signature(of: token), now: 1_000) == Self.grant)
        }
    }

    @Test func recordsExpireAndStayWithinCapacity() {
        let cache = LocalCache<Int>(capacity: 2)
        let now = NIODeadline.now()
        cache.set("bench-load-00001", 1, expires: now + .seconds(2))
        #expect(cache.get("bench-load-00001", now: now) == 1)
        #expect(cache.get("bench-load-00002", now: now) == nil)
        #expect(cache.get("bench-load-00001", now: now + .seconds(2)) == nil)
        cache.set("bench-load-00001", 7, expires: now + .seconds(4))
        #expect(cache.get("bench-load-00001", now: now + .seconds(2)) == 7)
        cache.set("bench-load-00002", 2, expires: now + .seconds(4))
        cache.set("bench-load-00003", 3, expires: now + .seconds(4))
        #expect(cache.count <= 2)
        #expect(cache.get("bench-load-00003", now: now) == 3)
        cache.remove("bench-load-00003")
        #expect(cache.get("bench-load-00003", now: now) == nil)
    }

    @Test func recordKeysCompareTheIdNotOnlyItsHash() {
        let a = LocalCache<Int>.Key("vid-a")
        #expect(a == LocalCache<Int>.Key("vid-a"))
        #expect(a != LocalCache<Int>.Key("vid-b"))
        // Equal hashes alone do not make equal keys.
        #expect(LocalCache<Int>.Key(id: "vid-b", hash: a.hash) != a)
        #expect(LocalCache<Int>.Key(id: "vid-a", hash: a.hash) == a)
    }
}

extension EdgeCacheTests {
    /// 150 tokens asked for in turn through a cache of 100: emptying the cache when full (the first version) served
    /// none of them from it; evicting one entry per new one keeps serving about two thirds.
    @Test func theTokenCacheStaysUsefulBeyondItsCapacity() {
        let cache = TokenCache(capacity: 100)
        let tokens = (0..<150).map { "h.p.signature-\(1000 + $0)-of-a-viewer-token" }
        var hits = 0
        for round in 0..<6 {
            for token in tokens {
                if cache.grant(for: token[...], signature: Self.signature(of: token), now: 1_000) != nil {
                    if round == 5 { hits += 1 }
                } else {
                    cache.store(Self.grant, token: token, validUntil: 2_030, now: 1_000)
                }
                #expect(cache.count <= 100)
            }
        }
        #expect(hits >= 75, "hits in the last round: \(hits) of 150")
    }

    /// The edge probes with the id as it lies in the request's URL (a `Substring` of it): found as stored from a
    /// string of its own, and not found for an id that only starts the same.
    @Test func aSliceOfTheURLFindsTheRecord() {
        let cache = LocalCache<Int>(capacity: 4)
        let now = NIODeadline.now()
        cache.set("vid-a", 1, expires: now + .seconds(60))
        let uri = "/v/vid-a?token=x.y.z"
        let id = uri.dropFirst(3).prefix(5)
        #expect(id == "vid-a" && cache.get(id, now: now) == 1)
        #expect(cache.get(uri.dropFirst(3).prefix(4), now: now) == nil)
        #expect(cache.get(id, now: now + .seconds(61)) == nil, "expired")
    }

    @Test func theRecordCacheStaysUsefulBeyondItsCapacity() {
        let cache = LocalCache<Int>(capacity: 100)
        let now = NIODeadline.now()
        var hits = 0
        for round in 0..<6 {
            for n in 0..<150 {
                let id = "bench-load-\(10_000 + n)"
                if cache.get(id[...], now: now) == n {
                    if round == 5 { hits += 1 }
                } else {
                    cache.set(id, n, expires: now + .seconds(60))
                }
                #expect(cache.count <= 100)
            }
        }
        #expect(hits >= 75, "hits in the last round: \(hits) of 150")
    }

    @Test func expiredEntriesMakeRoomBeforeLiveOnesLeave() {
        let cache = TokenCache(capacity: 10)
        for n in 0..<5 { cache.store(Self.grant, token: "h.p.short-lived-\(n)-signature", validUntil: 1_001, now: 1_000) }
        let live = (0..<5).map { "h.p.long-lived-\($0)-signature" }
        for token in live { cache.store(Self.grant, token: token, validUntil: 2_030, now: 1_000) }
        // Full; five expire. The next five stores sweep them instead of evicting live tokens.
        for n in 0..<5 { cache.store(Self.grant, token: "h.p.newcomer-\(n)-signature", validUntil: 2_030, now: 1_500) }
        for token in live { #expect(cache.grant(for: token[...], signature: Self.signature(of: token), now: 1_500) != nil) }
    }

    private static func url(_ text: String, expiresAt: Int64 = 2_000) -> PresignedURL { PresignedURL(url: text, expiresAt: expiresAt) }

    @Test func aWindowsURLIsKeptForThatWindowOnly() {
        let urls = WindowedURLs(capacity: 10)
        urls.store(Self.url("https://s3.test/usher/videos/a.mp4?w=1"), key: "videos/a.mp4", signingTime: 3_600)
        urls.store(Self.url("https://s3.test/usher/videos/b.mp4?w=1"), key: "videos/b.mp4", signingTime: 3_600)
        #expect(urls.url(key: "videos/a.mp4", signingTime: 3_600) == Self.url("https://s3.test/usher/videos/a.mp4?w=1"))
        #expect(urls.url(key: "videos/a.mp4", signingTime: 7_200) == nil, "the next window signs anew")
        #expect(urls.url(key: "videos/c.mp4", signingTime: 3_600) == nil)
        // The window turns: the earlier window's URLs can never be served again, and go.
        urls.store(Self.url("https://s3.test/usher/videos/a.mp4?w=2"), key: "videos/a.mp4", signingTime: 7_200)
        #expect(urls.url(key: "videos/a.mp4", signingTime: 7_200) == Self.url("https://s3.test/usher/videos/a.mp4?w=2"))
        #expect(urls.url(key: "videos/b.mp4", signingTime: 3_600) == nil)
        #expect(urls.count == 1)
        // A store for an earlier window (the clock stepped back) is not kept, and the current window's stay.
        urls.store(Self.url("https://s3.test/usher/videos/b.mp4?w=1"), key: "videos/b.mp4", signingTime: 3_600)
        #expect(urls.url(key: "videos/b.mp4", signingTime: 3_600) == nil)
        #expect(urls.url(key: "videos/a.mp4", signingTime: 7_200) == Self.url("https://s3.test/usher/videos/a.mp4?w=2"))
    }

    /// More videos in one window than fit: one entry leaves per new one, and the newest is always served.
    @Test func windowedURLsStayWithinTheirCapacity() {
        let urls = WindowedURLs(capacity: 4)
        for n in 0..<20 {
            urls.store(Self.url("url-\(n)"), key: "videos/\(n).mp4", signingTime: 7_200)
            #expect(urls.count == min(n + 1, 4))
            #expect(urls.url(key: "videos/\(n).mp4", signingTime: 7_200) == Self.url("url-\(n)"))
        }
        let kept = (0..<20).filter { urls.url(key: "videos/\($0).mp4", signingTime: 7_200) != nil }
        #expect(kept.count == 4)
    }

    /// Through the edge: with a window, a plain `/v` is answered with the URL the presigner makes for the window, and
    /// it is the table's (a URL planted there is what is served); a download's variant is signed each time and not
    /// kept; without a window nothing is kept.
    @Test func withASigningWindowTheEdgeSignsOncePerWindowAndObject() async throws {
        typealias Edge = EdgePendingAnswerTests.Edge
        let edge = try await Edge.make(signingWindow: 3_600)
        edge.cache.holding = false
        let loop = edge.channel.embeddedEventLoop
        let table = try #require(edge.service.windowedURLs[ObjectIdentifier(loop)]?.value)
        let before = Int64(Date().timeIntervalSince1970)
        try edge.send(Edge.get("/v/vid-a"), Edge.get("/v/vid-a"))
        let after = Int64(Date().timeIntervalSince1970)
        let locations = try Self.locations(edge.written())
        #expect(locations.count == 2)
        #expect(table.count == 1)
        let expected = try Set(
            [before, after].map { now in
                try edge.service.presigner.presignedGET(key: "videos/vid-a.mp4", ttl: 900, now: now).url
            })
        #expect(locations.allSatisfy { expected.contains($0) }, "\(locations) not among \(expected)")
        if expected.count == 1 { #expect(locations[0] == locations[1]) }

        // What a plain `/v` serves is the table's: a URL planted for vid-c in the current window is the answer (tried
        // again should the hour turn between planting and answering).
        var planted = false
        for _ in 0..<3 where !planted {
            let window = edge.service.presigner.signingTime(at: Int64(Date().timeIntervalSince1970))
            let url = PresignedURL(url: "https://s3.test/usher/videos/vid-c.mp4?planted", expiresAt: window + 4_500)
            table.store(url, key: "videos/vid-c.mp4", signingTime: window)
            try edge.send(Edge.get("/v/vid-c"))
            let served = try Self.locations(edge.written())
            guard edge.service.presigner.signingTime(at: Int64(Date().timeIntervalSince1970)) == window else { continue }
            #expect(served == [url.url])
            planted = true
        }
        #expect(planted)

        // A download is signed with its disposition and not kept: the plain URL that follows is still the plain one.
        try edge.send(Edge.get("/v/vid-a?download=1"), Edge.get("/v/vid-a"), Edge.get("/v/vid-b"))
        let more = try Self.locations(edge.written())
        #expect(more.count == 3)
        #expect(more[0].contains("response-content-disposition="))
        #expect(!more[1].contains("response-content-disposition=") && more[1].contains("/videos/vid-a.mp4?"), "\(more[1])")
        #expect(table.count == 3, "vid-a's, vid-c's and vid-b's plain URLs")
        _ = try edge.channel.finish()

        let unwindowed = try await Edge.make()
        unwindowed.cache.holding = false
        try unwindowed.send(Edge.get("/v/vid-a"))
        #expect(try Self.locations(unwindowed.written()).count == 1)
        #expect(unwindowed.service.windowedURLs.isEmpty)
        _ = try unwindowed.channel.finish()
    }

    private static func locations(_ text: String) -> [String] {
        text.components(separatedBy: "\r\n").compactMap { line in line.hasPrefix("Location: ") ? String(line.dropFirst(10)) : nil }
    }
}
