import Delivery
import Testing

/// Rules every writer shares (admin API, `usher import`, `usher share`, `usher revoke`), each written once.
@Suite struct DomainRulesTests {
    @Test func visibilityIsPrivateWhenAbsentAndOtherwiseOneOfTwoNames() {
        #expect(Generation.Visibility(parsing: nil) == .private)
        #expect(Generation.Visibility(parsing: "public") == .public)
        #expect(Generation.Visibility(parsing: "private") == .private)
        for bad in ["", "PUBLIC", "Public", "unlisted", " public"] { #expect(Generation.Visibility(parsing: bad) == nil, "\(bad)") }
    }

    @Test func boundsMatchTheContractAndTheTables() {
        #expect(Generation.ownerBytes == 1...256 && Generation.objectKeyBytes == 1...1024)
        #expect(Revocation.valueBytes == 1...256, "the revocations table's CHECK (length(value) BETWEEN 1 AND 256)")
        #expect(Share.maxUses.lowerBound == 1 && !Share.maxUses.contains(0))
    }

    /// Keys a store that keeps objects as files cannot hold as an object are refused at registration (SeaweedFS
    /// answered DeleteObject of `/` with 500, so its DELETE could never finish; `.` segments 400; `a/` and `a\`
    /// are kept as folders). The same rule is `openapi.yaml`'s pattern for `object_key`.
    @Test(arguments: [
        "/", "//", "\\", "a/", "a\\", "a/./b", "a/../b", ".", "..", "./a", "a/.", "a\\..\\b", "", "a\nb", "a\u{7F}",
        String(repeating: "k", count: 1025),
    ])
    func objectKeysStoresCannotHoldAreRefused(_ key: String) {
        #expect(!Generation.isValidObjectKey(key))
    }

    @Test(arguments: ["videos/x.mp4", "a//b", "/a", "a/..b", "..a", "a b", "é/ü.mp4", "a?b#c%", String(repeating: "k", count: 1024)])
    func objectKeysOfOtherShapesAreAccepted(_ key: String) {
        #expect(Generation.isValidObjectKey(key))
    }

    /// The contract's id shape, the same through a `String` and through the `Substring` of a URL the edge routes.
    @Test(arguments: [
        "a", "A-z_0.9", "...", ".a", "a..", "-", "_", "9f1c2d3e-4b5a-6789-abcd-ef0123456789", String(repeating: "i", count: 128),
    ])
    func requestIDsOfTheContractsShapeAreValid(_ id: String) {
        #expect(RequestID.isValid(id))
        #expect(RequestID.isValid("/v/\(id)?t=1".dropFirst(3).prefix(id.utf8.count)))
    }

    @Test(arguments: ["", ".", "..", "a/b", "a b", "a%2F", "é", "a\u{0}", "a+b", "a~", String(repeating: "i", count: 129)])
    func requestIDsOfOtherShapesAreRefused(_ id: String) {
        #expect(!RequestID.isValid(id))
        #expect(!RequestID.isValid("/v/\(id)?t=1".dropFirst(3).prefix(id.count)))
    }
}
