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
}
