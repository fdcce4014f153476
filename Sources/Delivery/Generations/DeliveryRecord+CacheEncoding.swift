/// How a delivery record is stored in the shared cache (Redis) under `usher:gen:{id}`.
///
/// Binary-safe and cheap to parse on the hot path: a version byte, then status, visibility and three
/// length-prefixed optional fields (owner, object key, fal URL). `0` alone marks an id known not to exist.
extension DeliveryRecord {

    /// One allocation: it is made for every read that misses the in-process cache.
    static func cacheKey(_ id: some StringProtocol) -> [UInt8] {
        let prefix: StaticString = "usher:gen:"
        var key: [UInt8] = []
        key.reserveCapacity(prefix.utf8CodeUnitCount + id.utf8.count)
        key.append(contentsOf: UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
        key.append(contentsOf: id.utf8)
        return key
    }

    var cacheValue: [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "1")]
        let statusByte: UInt8 =
            switch status {
            case .pending: UInt8(ascii: "P")
            case .mirroring: UInt8(ascii: "M")
            case .completed: UInt8(ascii: "C")
            case .failed: UInt8(ascii: "F")
            case .deleted: UInt8(ascii: "D")
            }
        out.append(statusByte)
        out.append(visibility == .public ? UInt8(ascii: "u") : UInt8(ascii: "r"))
        for field in [owner, objectKey, falURL] {
            guard let field else {
                out.append(contentsOf: [0xFF, 0xFF, 0xFF, 0xFF])
                continue
            }
            let bytes = Array(field.utf8)
            let count = UInt32(bytes.count)
            out.append(contentsOf: [UInt8(count >> 24), UInt8(count >> 16 & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)])
            out.append(contentsOf: bytes)
        }
        return out
    }

    /// nil for bytes this version did not write (treated as a cache miss).
    init?(cacheValue bytes: [UInt8]) {
        guard bytes.count >= 3, bytes[0] == UInt8(ascii: "1") else { return nil }
        let status: Generation.Status
        switch bytes[1] {
        case UInt8(ascii: "P"): status = .pending
        case UInt8(ascii: "M"): status = .mirroring
        case UInt8(ascii: "C"): status = .completed
        case UInt8(ascii: "F"): status = .failed
        case UInt8(ascii: "D"): status = .deleted
        default: return nil
        }
        var index = 3
        // Read for every request that misses the in-process cache: no array of fields, only the strings.
        func field() -> String?? {
            guard index + 4 <= bytes.count else { return .none }
            let count = UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16 | UInt32(bytes[index + 2]) << 8 | UInt32(bytes[index + 3])
            index += 4
            if count == 0xFFFF_FFFF { return .some(nil) }
            guard index + Int(count) <= bytes.count else { return .none }
            defer { index += Int(count) }
            return String(decoding: bytes[index..<(index + Int(count))], as: UTF8.self)
        }
        guard let owner = field(), let objectKey = field(), let falURL = field(), index == bytes.count else { return nil }
        self.init(
            status: status, visibility: bytes[2] == UInt8(ascii: "u") ? .public : .private, owner: owner, objectKey: objectKey, falURL: falURL)
    }
}
