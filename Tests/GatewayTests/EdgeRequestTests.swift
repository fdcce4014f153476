import Testing

@testable import Gateway

@Suite struct EdgeRequestTests {
    @Test func routes() {
        #expect(EdgeRequest.parse(uri: "/v/abc-1.x_y?token=t").route == .video("abc-1.x_y"))
        #expect(EdgeRequest.parse(uri: "/v/abc-1.x_y?token=t").query == "token=t")
        #expect(EdgeRequest.parse(uri: "/s/CODE").route == .share("CODE"))
        #expect(EdgeRequest.parse(uri: "/healthz").route == .healthz)
        #expect(EdgeRequest.parse(uri: "/readyz?x").route == .readyz)
        #expect(EdgeRequest.parse(uri: "/v/").route == .malformedID)
        #expect(EdgeRequest.parse(uri: "/v/..").route == .malformedID)
        #expect(EdgeRequest.parse(uri: "/v/a%20b").route == .malformedID)
        #expect(EdgeRequest.parse(uri: "/v/a/b").route == .malformedID)
        #expect(EdgeRequest.parse(uri: "/v/é").route == .malformedID)
        #expect(EdgeRequest.parse(uri: "/other").route == .unknown)
    }

    /// The byte-level split: only the first `?` ends the path, and a route is named by its whole path.
    @Test func routeBoundaries() {
        #expect(EdgeRequest.parse(uri: "/v/a?token=b?c") == (.video("a"), "token=b?c"))
        #expect(EdgeRequest.parse(uri: "/v/?token=t") == (.malformedID, "token=t"))
        #expect(EdgeRequest.parse(uri: "/s/") == (.malformedID, ""))
        #expect(EdgeRequest.parse(uri: "/healthz?") == (.healthz, ""))
        #expect(EdgeRequest.parse(uri: "/healthzz").route == .unknown)
        #expect(EdgeRequest.parse(uri: "/health").route == .unknown)
        #expect(EdgeRequest.parse(uri: "/readyz/").route == .unknown)
        #expect(EdgeRequest.parse(uri: "/x/abc").route == .unknown)
        #expect(EdgeRequest.parse(uri: "/V/abc").route == .unknown)
        #expect(EdgeRequest.parse(uri: "").route == .unknown)
        #expect(EdgeRequest.parse(uri: "/v").route == .unknown)
        #expect(EdgeRequest.parse(uri: "?a").route == .unknown)
        // A slice of a longer string, as the id and query are: the offsets stay the string's own.
        let long = "prefix/v/id-1?q=1"
        #expect(EdgeRequest.parse(uri: String(long.dropFirst(6))) == (.video("id-1"), "q=1"))
        // A string made from bytes, as the decoder makes the target.
        let bridged = String(decoding: Array("/s/code1?download=1".utf8), as: UTF8.self)
        #expect(EdgeRequest.parse(uri: bridged) == (.share("code1"), "download=1"))
    }

    @Test func queryValues() {
        #expect(EdgeRequest.queryValue("a=1&token=abc.def&b", "token") == "abc.def")
        #expect(EdgeRequest.queryValue("a=1&b", "b") == "")
        #expect(EdgeRequest.queryValue("tokens=1&token=2", "token") == "2")
        #expect(EdgeRequest.queryValue("", "token") == nil)
        #expect(EdgeRequest.queryValue("&&token=&", "token") == "")
        #expect(EdgeRequest.percentDecode("a%20b+c%C3%A9") == "a b cé")
        #expect(EdgeRequest.percentDecode("%zz") == nil)
        #expect(EdgeRequest.percentDecode("%FF") == nil)
    }

    @Test func tokenSources() {
        #expect(EdgeRequest.token(authorization: "Bearer h.t.s", query: "token=q", cookie: "usher_token=c") == "h.t.s")
        #expect(EdgeRequest.token(authorization: "  bearer   h.t.s  ", query: "", cookie: nil) == "h.t.s")
        #expect(EdgeRequest.token(authorization: "Basic dXNlcg==", query: "token=q", cookie: nil) == "q")
        #expect(EdgeRequest.token(authorization: "Bearer ", query: "", cookie: "a=b; usher_token=c; d=e") == "c")
        #expect(EdgeRequest.token(authorization: nil, query: "x=1", cookie: "usher_tokenx=1") == nil)
        #expect(EdgeRequest.token(authorization: nil, query: "token=", cookie: nil) == nil)
    }

    @Test func downloads() {
        #expect(EdgeRequest.download("") == .none)
        #expect(EdgeRequest.download("download=0") == .none)
        #expect(EdgeRequest.download("download=false") == .none)
        #expect(EdgeRequest.download("download=1") == .attachment(filename: nil))
        #expect(EdgeRequest.download("download=true&filename=my%20clip.mp4") == .attachment(filename: "my clip.mp4"))
        #expect(EdgeRequest.download("download=yes") == .invalid)
        #expect(EdgeRequest.download("download=1&filename=") == .invalid)
    }
}

@Suite struct HTTPDateTests {
    @Test func imfFixdate() {
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(1_369_353_600) == "Fri, 24 May 2013 00:00:00 GMT")
        #expect(HTTPDate.format(1_795_965_664) == "Sun, 29 Nov 2026 15:21:04 GMT")
    }
}
