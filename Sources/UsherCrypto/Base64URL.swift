/// Base64url (RFC 4648 §5), the alphabet of JWS and JWK.
///
/// Decoding is strict where it matters for tokens: no characters outside the alphabet, no impossible lengths,
/// and no non-zero bits in the unused tail (so a signature has exactly one encoding and cannot be altered
/// without being rejected). Trailing `=` padding is refused unless the caller allows it (JWKS files from some
/// tools carry it).
public enum Base64URL {
    @usableFromInline static let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    /// 255 marks a byte outside the alphabet.
    @usableFromInline static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 255, count: 256)
        let chars = alphabet.utf8Start
        for i in 0..<64 { table[Int(chars[i])] = UInt8(i) }
        return table
    }()

    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        let count = (bytes.count * 4 + 2) / 3
        return String(unsafeUninitializedCapacity: count) { out in
            let table = alphabet.utf8Start
            var i = 0
            var j = 0
            while i + 3 <= bytes.count {
                let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                out[j] = table[Int(v >> 18 & 63)]
                out[j + 1] = table[Int(v >> 12 & 63)]
                out[j + 2] = table[Int(v >> 6 & 63)]
                out[j + 3] = table[Int(v & 63)]
                i += 3
                j += 4
            }
            let rest = bytes.count - i
            if rest == 1 {
                let v = UInt32(bytes[i]) << 16
                out[j] = table[Int(v >> 18 & 63)]
                out[j + 1] = table[Int(v >> 12 & 63)]
                j += 2
            } else if rest == 2 {
                let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
                out[j] = table[Int(v >> 18 & 63)]
                out[j + 1] = table[Int(v >> 12 & 63)]
                out[j + 2] = table[Int(v >> 6 & 63)]
                j += 3
            }
            return j
        }
    }

    public static func encode(_ bytes: some ContiguousByteStorage) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }

    public static func encode(_ string: String) -> String {
        encode(Array(string.utf8))
    }

    /// Decodes into `out` (which must hold `maximumDecodedCount(input.count)` bytes); returns the byte count,
    /// or nil for input that is not canonical base64url.
    public static func decode(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, allowPadding: Bool = false) -> Int? {
        var length = input.count
        if allowPadding {
            var pads = 0
            while length > 0 && input[length - 1] == UInt8(ascii: "=") && pads < 2 {
                length -= 1
                pads += 1
            }
            if pads > 0 && (length + pads) % 4 != 0 { return nil }
        }
        if length % 4 == 1 { return nil }
        let table = decodeTable
        return table.withUnsafeBufferPointer { table -> Int? in
            var i = 0
            var j = 0
            while i + 4 <= length {
                let a = table[Int(input[i])]
                let b = table[Int(input[i + 1])]
                let c = table[Int(input[i + 2])]
                let d = table[Int(input[i + 3])]
                if (a | b | c | d) & 0xC0 != 0 { return nil }
                let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                out[j] = UInt8(truncatingIfNeeded: v >> 16)
                out[j + 1] = UInt8(truncatingIfNeeded: v >> 8)
                out[j + 2] = UInt8(truncatingIfNeeded: v)
                i += 4
                j += 3
            }
            switch length - i {
            case 2:
                let a = table[Int(input[i])]
                let b = table[Int(input[i + 1])]
                if (a | b) & 0xC0 != 0 || b & 0x0F != 0 { return nil }
                out[j] = a << 2 | b >> 4
                j += 1
            case 3:
                let a = table[Int(input[i])]
                let b = table[Int(input[i + 1])]
                let c = table[Int(input[i + 2])]
                if (a | b | c) & 0xC0 != 0 || c & 0x03 != 0 { return nil }
                out[j] = a << 2 | b >> 4
                out[j + 1] = (b & 0x0F) << 4 | c >> 2
                j += 2
            default:
                break
            }
            return j
        }
    }

    public static func maximumDecodedCount(_ encodedCount: Int) -> Int { (encodedCount / 4 + 1) * 3 }

    public static func decode(_ input: some StringProtocol, allowPadding: Bool = false) -> [UInt8]? {
        var text = String(input)
        return text.withUTF8 { decode(UnsafeRawBufferPointer($0), allowPadding: allowPadding) }
    }

    public static func decode(_ input: UnsafeRawBufferPointer, allowPadding: Bool = false) -> [UInt8]? {
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: maximumDecodedCount(input.count)) { out, count in
            if let n = decode(input, into: UnsafeMutableRawBufferPointer(out), allowPadding: allowPadding) {
                count = n
            } else {
                failed = true
                count = 0
            }
        }
        return failed ? nil : bytes
    }
}
