/// Appends bytes into a buffer sized by the caller, for building a URL in place.
struct Writer {
    let out: UnsafeMutableBufferPointer<UInt8>
    var position = 0

    @inline(__always)
    mutating func append(_ literal: StaticString) {
        let count = literal.utf8CodeUnitCount
        UnsafeMutableRawBufferPointer(start: out.baseAddress! + position, count: count)
            .copyMemory(from: UnsafeRawBufferPointer(start: literal.utf8Start, count: count))
        position += count
    }

    @inline(__always)
    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { bytes in
            UnsafeMutableRawBufferPointer(start: out.baseAddress! + position, count: bytes.count).copyMemory(from: bytes)
        }
        position += bytes.count
    }

    @inline(__always)
    mutating func appendEncoded(_ bytes: UnsafeBufferPointer<UInt8>, keepSlash: Bool) {
        position = URIEncoding.write(bytes, keepSlash: keepSlash, into: out, at: position)
    }

    mutating func appendDecimal(_ value: Int) {
        precondition(value >= 0)
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        var v = value
        for i in stride(from: position + digits - 1, through: position, by: -1) {
            out[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
            v /= 10
        }
        position += digits
    }
}
