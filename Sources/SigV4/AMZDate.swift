/// The UTC calendar fields SigV4 needs, computed from Unix seconds without Foundation's calendar
/// (which costs microseconds and allocates).
struct AMZDate {
    let year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int

    init(unixSeconds: Int64) {
        let days = Int(unixSeconds.floorDiv(86_400))
        let secondsOfDay = Int(unixSeconds - Int64(days) * 86_400)
        // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.year = yoe + era * 400 + (m <= 2 ? 1 : 0)
        self.month = m
        self.day = d
        self.hour = secondsOfDay / 3600
        self.minute = secondsOfDay / 60 % 60
        self.second = secondsOfDay % 60
    }

    /// Days since the epoch: the signing key's cache key.
    static func dayNumber(_ unixSeconds: Int64) -> Int64 { unixSeconds.floorDiv(86_400) }

    /// `YYYYMMDDTHHMMSSZ` (16 bytes) at `out[offset...]`.
    func writeTimestamp(into out: UnsafeMutableBufferPointer<UInt8>, at offset: Int) -> Int {
        var j = writeDate(into: out, at: offset)
        out[j] = UInt8(ascii: "T")
        j = Self.write2(hour, into: out, at: j + 1)
        j = Self.write2(minute, into: out, at: j)
        j = Self.write2(second, into: out, at: j)
        out[j] = UInt8(ascii: "Z")
        return j + 1
    }

    /// `YYYYMMDD` (8 bytes) at `out[offset...]`.
    func writeDate(into out: UnsafeMutableBufferPointer<UInt8>, at offset: Int) -> Int {
        var j = Self.write2(year / 100, into: out, at: offset)
        j = Self.write2(year % 100, into: out, at: j)
        j = Self.write2(month, into: out, at: j)
        return Self.write2(day, into: out, at: j)
    }

    var timestamp: String { String(unsafeUninitializedCapacity: 16) { writeTimestamp(into: $0, at: 0) } }
    var date: String { String(unsafeUninitializedCapacity: 8) { writeDate(into: $0, at: 0) } }

    @inline(__always)
    private static func write2(_ value: Int, into out: UnsafeMutableBufferPointer<UInt8>, at offset: Int) -> Int {
        out[offset] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value / 10)
        out[offset + 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value % 10)
        return offset + 2
    }
}

extension Int64 {
    func floorDiv(_ divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
