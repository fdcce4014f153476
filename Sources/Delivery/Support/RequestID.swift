/// The shape of a generation id, shared by the edge, the admin API and the importer.
public enum RequestID {
    /// 1–128 of `[A-Za-z0-9._-]`, not `.` or `..` (fal request ids are UUIDs).
    public static func isValid(_ id: some StringProtocol) -> Bool {
        let bytes = id.utf8
        guard (1...128).contains(bytes.count), id != ".", id != ".." else { return false }
        for c in bytes {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return true
    }
}
