/// Lowercase hexadecimal, as SigV4 signatures and fal's webhook signatures use it.
public enum Hex {
    @usableFromInline static let digits: StaticString = "0123456789abcdef"

    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            write(bytes, into: UnsafeMutableRawBufferPointer(out))
        }
    }

    public static func encode(_ bytes: some ContiguousByteStorage) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }

    /// Writes `2 * bytes.count` characters at the start of `out`; returns how many.
    @inlinable @discardableResult
    public static func write(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        precondition(out.count >= bytes.count * 2)
        let table = digits.utf8Start
        var j = 0
        for byte in bytes {
            out[j] = table[Int(byte >> 4)]
            out[j + 1] = table[Int(byte & 0x0f)]
            j += 2
        }
        return j
    }

    /// Decodes upper- or lowercase hex; nil for odd lengths or any other character.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let high = nibble(utf8[i]), let low = nibble(utf8[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }

    @inline(__always)
    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
