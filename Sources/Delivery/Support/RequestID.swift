/// The shape of a generation id, shared by the edge, the admin API and the importer.
public enum RequestID {
    /// 1–128 of `[A-Za-z0-9._-]`, not `.` or `..` (fal request ids are UUIDs).
    ///
    /// Inlinable: the edge checks every `/v` and `/s` id with it, and the unspecialized generic walked the id through
    /// `IndexingIterator` witness calls, 5 % of the server's CPU under the load benchmark.
    @inlinable
    public static func isValid(_ id: some StringProtocol) -> Bool {
        let bytes = id.utf8
        let count = bytes.count
        guard (1...128).contains(count) else { return false }
        var dots = 0
        for c in bytes {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            case UInt8(ascii: "."):
                dots += 1
            default:
                return false
            }
        }
        // `.` and `..`: nothing but one or two dots.
        return !(dots == count && count <= 2)
    }
}
