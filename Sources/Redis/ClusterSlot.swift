/// Redis Cluster's key → slot rule: CRC16 (XMODEM: polynomial 0x1021, initial 0) of the key's hash tag, modulo
/// 16,384. Every client and server of a cluster computes the same slot, so a command goes straight to the master
/// that owns it (a `MOVED` reply only after a resharding).
public enum ClusterSlot {
    public static let count = 16_384

    /// The slot of `key`: of its hash tag (`RedisClient.hashTag`) when it has one.
    public static func of(_ key: [UInt8]) -> Int {
        Int(crc16(RedisClient.hashTag(key)) & UInt16(count - 1))
    }

    static func crc16(_ bytes: some Collection<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
