import HostAddress
import Testing

/// The one `host[:port]` rule, and the four readers that use it agreeing on it.
@Suite struct HostPortTests {
    @Test(
        arguments: [
            ("example.com", "example.com", nil, false),
            ("example.com:8080", "example.com", 8080, false),
            ("127.0.0.1:0", "127.0.0.1", 0, false),
            ("[::1]", "::1", nil, true),
            ("[::1]:6379", "::1", 6379, true),
            ("[2001:db8::10]:443", "2001:db8::10", 443, true),
        ] as [(String, String, Int?, Bool)])
    func reads(_ text: String, host: String, port: Int?, v6: Bool) throws {
        let address = try #require(HostPort(text))
        #expect(address.host == host && address.port == port && address.isIPv6Literal == v6)
        #expect(address.description == text)
    }

    @Test(arguments: [
        "", ":80", "host:", "host:65536", "host:-1", "host:+80", "host: 80", "[::1", "[::1]x", "[::1]:", "[]:80", "::1", "a:b:c", "[a]b]:1",
    ])
    func refuses(_ text: String) {
        #expect(HostPort(text) == nil)
    }

    @Test func bareIPv6IsAllowedOnlyWhereAskedFor() throws {
        let address = try #require(HostPort("2001:db8::10", allowingBareIPv6: true))
        #expect(address.host == "2001:db8::10" && address.port == nil && address.hostForURL == "[2001:db8::10]")
    }

    @Test func theReadersAgree() throws {
        #expect(URLAuthority("http://[::1]:9000/x")?.host == "::1")
        #expect(URLAuthority("http://[::1]:9000/x")?.port == 9000)
        #expect(URLAuthority("https://fal.media:0/") == nil, "port 0 is not a URL's port")
        #expect(URLAuthority("https://a:b:c/") == nil)
        #expect(HostPattern("[::1]:8443")?.host == "::1")
        #expect(HostPattern("[::1]:8443")?.port == 8443)
        #expect(HostPattern("::1")?.port == nil)
        #expect(HostPattern("*.fal.media")?.wildcard == true)
        #expect(HostPattern("fal.media:99999") == nil)
    }
}
