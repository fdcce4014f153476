/// Percent-encoding as SigV4 defines it: every byte but RFC 3986's unreserved `A-Za-z0-9-._~` becomes `%XX`
/// (uppercase hex), applied exactly once. S3 object keys keep their `/`; query names and values do not.
enum URIEncoding {
    @inline(__always)
    static func isUnreserved(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }

    static let upperHex: StaticString = "0123456789ABCDEF"

    /// Writes the encoding of `bytes` at `out[offset...]` (room for `3 * bytes.count` is the caller's
    /// business); returns the new offset.
    @inline(__always)
    static func write(
        _ bytes: UnsafeBufferPointer<UInt8>, keepSlash: Bool, into out: UnsafeMutableBufferPointer<UInt8>, at offset: Int
    ) -> Int {
        let hex = upperHex.utf8Start
        var j = offset
        for c in bytes {
            if isUnreserved(c) || (keepSlash && c == UInt8(ascii: "/")) {
                out[j] = c
                j += 1
            } else {
                out[j] = UInt8(ascii: "%")
                out[j + 1] = hex[Int(c >> 4)]
                out[j + 2] = hex[Int(c & 0x0f)]
                j += 3
            }
        }
        return j
    }

    static func encode(_ string: String, keepSlash: Bool) -> String {
        var string = string
        return string.withUTF8 { input in
            String(unsafeUninitializedCapacity: input.count * 3) { out in
                write(input, keepSlash: keepSlash, into: out, at: 0)
            }
        }
    }
}
