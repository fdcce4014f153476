/// RFC 3339 times as the API accepts them (`until`, `expires_at`): `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
///
/// The fields are range-checked here; the store still parses the value and refuses an impossible date (30 February)
/// as invalid input. Years 0001 and 9999 take no offset: one could move the instant out of years 1–9999 in UTC,
/// which an answer cannot write back as RFC 3339 (`10000-01-01T04:00:00Z`). Read as ASCII bytes: a Regex `\d` also
/// matches other scripts' digits, which `Int` does not read.
public enum RFC3339 {
    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        /// The number in `bytes[at..<at + count]`, if those are ASCII digits.
        func number(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[at..<at + count] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        func byte(_ at: Int, _ allowed: String) -> Bool { at < bytes.count && allowed.utf8.contains(bytes[at]) }
        guard let year = number(0, 4), byte(4, "-"), let month = number(5, 2), byte(7, "-"), let day = number(8, 2),
            byte(10, "Tt "), let hour = number(11, 2), byte(13, ":"), let minute = number(14, 2), byte(16, ":"),
            let second = number(17, 2)
        else { return false }
        guard (1...9999).contains(year), (1...12).contains(month), (1...31).contains(day), hour <= 23, minute <= 59, second <= 60
        else { return false }
        var index = 19
        if byte(index, ".") {
            var digits = 0
            while number(index + 1 + digits, 1) != nil { digits += 1 }
            guard (1...9).contains(digits) else { return false }
            index += 1 + digits
        }
        if byte(index, "Zz") { return index + 1 == bytes.count }
        guard byte(index, "+-"), let offsetHours = number(index + 1, 2), byte(index + 3, ":"), let offsetMinutes = number(index + 4, 2),
            index + 6 == bytes.count, offsetHours <= 15, offsetMinutes <= 59
        else { return false }
        return (year != 1 && year != 9999) || offsetHours + offsetMinutes == 0
    }
}
