/// How a share record is stored in the shared cache (Redis) under `usher:share:{code}`: `1|expires|max_uses or -|revoked 0/1|request_id`.
extension ShareRecord {
    var cacheValue: [UInt8] {
        Array("1|\(expiresAt)|\(maxUses.map(String.init) ?? "-")|\(revoked ? 1 : 0)|\(requestID)".utf8)
    }

    /// nil for bytes this version did not write (treated as a cache miss).
    init?(cacheValue bytes: [UInt8]) {
        let fields = bytes.split(separator: UInt8(ascii: "|"), maxSplits: 4, omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].elementsEqual("1".utf8), let expiresAt = Int64(String(decoding: fields[1], as: UTF8.self)),
            fields[3].count == 1, !fields[4].isEmpty
        else { return nil }
        let maxUses: Int?
        if fields[2].elementsEqual("-".utf8) {
            maxUses = nil
        } else {
            guard let value = Int(String(decoding: fields[2], as: UTF8.self)) else { return nil }
            maxUses = value
        }
        self.init(
            requestID: String(decoding: fields[4], as: UTF8.self), expiresAt: expiresAt, revoked: fields[3].first == UInt8(ascii: "1"),
            maxUses: maxUses)
    }
}
