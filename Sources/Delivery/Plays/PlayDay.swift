/// A UTC day as plays are counted: days since 1970-01-01, written `YYYY-MM-DD` (Hinnant's civil-date algorithms).
public struct PlayDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let number: Int32

    public init(number: Int32) { self.number = number }

    /// The day of a Unix time.
    public init(unixSeconds: Int64) {
        number = Int32((unixSeconds >= 0 ? unixSeconds : unixSeconds - 86_399) / 86_400)
    }

    /// nil unless `YYYY-MM-DD` names a real day.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), (1...12).contains(month), day >= 1
        else { return nil }
        let candidate = Self.days(year: year, month: month, day: day)
        let back = Self.civil(candidate)
        guard back.year == year, back.month == month, back.day == day else { return nil }
        number = Int32(candidate)
    }

    public static func < (lhs: PlayDay, rhs: PlayDay) -> Bool { lhs.number < rhs.number }

    public func adding(_ days: Int32) -> PlayDay { PlayDay(number: number + days) }

    public var description: String {
        let (year, month, day) = Self.civil(Int(number))
        func padded(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))"
    }

    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// One generation on one day.
public struct PlayKey: Hashable, Sendable {
    public let requestID: String
    public let day: PlayDay

    public init(requestID: String, day: PlayDay) {
        self.requestID = requestID
        self.day = day
    }
}

/// Counts to add for one generation and day.
public struct PlayCounts: Sendable, Equatable {
    public var plays: Int
    public var sharePlays: Int

    public init(plays: Int = 0, sharePlays: Int = 0) {
        self.plays = plays
        self.sharePlays = sharePlays
    }
}

/// One stored day: the exact counts, and the viewers' sketch as the roll-up last copied it.
public struct PlayRow: Sendable, Equatable {
    public var day: PlayDay
    public var counts: PlayCounts
    /// Distinct viewers by the last roll-up (the live count, when Redis still holds the day, is newer).
    public var viewers: Int
    /// Redis's serialized HyperLogLog of the day's viewer hashes; nil before the first roll-up.
    public var sketch: [UInt8]?

    public init(day: PlayDay, counts: PlayCounts, viewers: Int, sketch: [UInt8]?) {
        self.day = day
        self.counts = counts
        self.viewers = viewers
        self.sketch = sketch
    }
}

/// `GET /v1/generations/{id}/stats`: every day of the range, and totals whose `viewers` are distinct over the range.
public struct PlayStats: Sendable, Equatable {
    public struct Day: Sendable, Equatable {
        public var day: PlayDay
        public var plays: Int
        public var viewers: Int
        public var sharePlays: Int
    }

    public var requestID: String
    public var days: [Day]
    public var totalPlays: Int
    public var totalViewers: Int
    public var totalSharePlays: Int
}
