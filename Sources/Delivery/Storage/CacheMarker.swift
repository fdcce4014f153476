/// Values the services write to the shared cache beside their records.
enum CacheMarker {
    /// "No such record": a generation id or share code known not to exist, so a flood of unknown ones costs one
    /// store read per key and period, not per request.
    static let absent: [UInt8] = [UInt8(ascii: "0")]
}
