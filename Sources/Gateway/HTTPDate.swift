import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `Date` header (RFC 9110 IMF-fixdate), formatted once per second rather than once per response.
final class HTTPDate: Sendable {
    private let cached = Mutex<(second: Int64, text: String)>((-1, ""))

    var now: String { text(at: Int64(time(nil))) }

    /// The header's text for `second` (Unix time).
    func text(at second: Int64) -> String {
        if let hit = cached.withLock({ $0.second == second ? $0.text : nil }) { return hit }
        let text = Self.format(second)
        cached.withLock { $0 = (second, text) }
        return text
    }

    static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func format(_ unixSeconds: Int64) -> String {
        var t = time_t(unixSeconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = Int(unixSeconds / 86_400)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(weekdays[days % 7]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
