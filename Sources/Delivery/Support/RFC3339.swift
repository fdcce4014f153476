/// RFC 3339 times as the API accepts them (`until`, `expires_at`): `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
///
/// The fields are range-checked here; the store still parses the value and refuses an impossible date (30 February)
/// as invalid input. Years 0001 and 9999 take no offset: one could move the instant out of years 1–9999 in UTC,
/// which an answer cannot write back as RFC 3339 (`10000-01-01T04:00:00Z`).
public enum RFC3339 {
    public static func isValid(_ text: String) -> Bool {
        guard
            let match = text.wholeMatch(
                of: /(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))/)
        else { return false }
        let year = Int(match.1)!
        let month = Int(match.2)!
        let day = Int(match.3)!
        guard (1...9999).contains(year), (1...12).contains(month), (1...31).contains(day), Int(match.4)! <= 23,
            Int(match.5)! <= 59, Int(match.6)! <= 60
        else { return false }
        guard let offsetHours = match.9.map({ Int($0)! }), let offsetMinutes = match.10.map({ Int($0)! }) else { return true }
        guard offsetHours <= 15, offsetMinutes <= 59 else { return false }
        return (year != 1 && year != 9999) || offsetHours + offsetMinutes == 0
    }
}
