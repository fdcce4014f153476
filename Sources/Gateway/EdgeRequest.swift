import Delivery

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
/// Parsing of what the edge accepts: the route, the query and the viewer token's three hiding places.
public enum EdgeRoute: Equatable, Sendable {
    case video(Substring)
    case share(Substring)
    case healthz
    case readyz
    /// A path the edge does not serve.
    case unknown
    /// `/v/…` or `/s/…` with an id that cannot exist (CONTRACT: 404 before anything else).
    case malformedID
}

/// Public for the fuzzing harness (`Tests/Fuzz`), which drives these parsers with arbitrary bytes.
public enum EdgeRequest {
    /// The most a URL may be (CONTRACT: longer → 414).
    public static let maximumURILength = 8192

    /// Splits `/v/{id}?query` into route and raw query.
    ///
    /// Everything here works on the target's contiguous UTF-8 bytes (`memchr`, `memcmp`), then cuts the id and the
    /// query out of the string at the offsets found: the generic `starts(with:)` and `elementsEqual` over a
    /// `Substring.UTF8View` took about 0.15 µs of a `/healthz` and 8 % of its reference counts (`perf` profiles,
    /// README § Benchmarks: What each cut bought, 8622bbb).
    public static func parse(uri: String) -> (route: EdgeRoute, query: Substring) {
        let utf8 = uri.utf8
        guard let parts = utf8.withContiguousStorageIfAvailable({ split(UnsafeRawBufferPointer($0)) }) else {
            // A bridged or otherwise non-contiguous string (never one the decoder made): the same, on a native copy.
            var copy = uri
            copy.makeContiguousUTF8()
            return parse(uri: copy)
        }
        let (kind, pathEnd, queryStart) = parts
        func at(_ offset: Int) -> String.Index { utf8.index(utf8.startIndex, offsetBy: offset) }
        let query = queryStart.map { uri[at($0)...] } ?? ""
        switch kind {
        case .video, .share:
            let id = uri[at(3)..<at(pathEnd)]
            guard isValidID(id) else { return (.malformedID, query) }
            return (kind == .video ? .video(id) : .share(id), query)
        case .healthz: return (.healthz, query)
        case .readyz: return (.readyz, query)
        case .unknown: return (.unknown, query)
        }
    }

    private enum PathKind { case video, share, healthz, readyz, unknown }

    /// The route a target's bytes name, where its path ends and where its query starts.
    private static func split(_ bytes: UnsafeRawBufferPointer) -> (PathKind, pathEnd: Int, queryStart: Int?) {
        guard let base = bytes.baseAddress else { return (.unknown, 0, nil) }
        let question = memchr(base, Int32(UInt8(ascii: "?")), bytes.count).map { base.distance(to: $0) }
        let pathEnd = question ?? bytes.count
        func path(is text: StaticString) -> Bool {
            pathEnd == text.utf8CodeUnitCount && memcmp(base, text.utf8Start, pathEnd) == 0
        }
        let kind: PathKind
        if pathEnd >= 3 && bytes[0] == UInt8(ascii: "/") && bytes[2] == UInt8(ascii: "/") && bytes[1] == UInt8(ascii: "v") {
            kind = .video
        } else if pathEnd >= 3 && bytes[0] == UInt8(ascii: "/") && bytes[2] == UInt8(ascii: "/") && bytes[1] == UInt8(ascii: "s") {
            kind = .share
        } else if path(is: "/healthz") {
            kind = .healthz
        } else if path(is: "/readyz") {
            kind = .readyz
        } else {
            kind = .unknown
        }
        return (kind, pathEnd, question.map { $0 + 1 })
    }

    public static func isValidID(_ id: Substring) -> Bool { RequestID.isValid(id) }

    /// The client's address for rate limits: the last entry of the trusted proxy header (what the proxy in front
    /// appended; earlier entries are the client's own claims), else the connection's peer.
    /// `forwarded`: the value of the trusted header's last occurrence (`EdgeRequestHead.Field.trustedProxy`), nil when
    /// none is configured or sent.
    public static func clientAddress(forwarded value: String?, peer: String?) -> String? {
        guard let value else { return peer }
        guard var last = value.split(separator: ",").last else { return peer }
        while last.first == " " || last.first == "\t" { last.removeFirst() }
        while last.last == " " || last.last == "\t" { last.removeLast() }
        return last.isEmpty ? peer : String(last)
    }

    /// The raw (still percent-encoded) value of the first `name=` parameter; `""` for a bare `name`.
    ///
    /// Runs on every request over a query that carries a ~250-byte token, so it scans contiguous bytes with
    /// `memchr` rather than walking a `Substring.UTF8View`.
    public static func queryValue(_ query: Substring, _ name: StaticString) -> Substring? {
        let key = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        let utf8 = query.utf8
        if let found = utf8.withContiguousStorageIfAvailable({ valueRange(in: UnsafeRawBufferPointer($0), key: key) }) {
            guard let range = found else { return nil }
            return query[utf8.index(utf8.startIndex, offsetBy: range.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: range.upperBound)]
        }
        var copy = String(query)
        return copy.withUTF8 { valueRange(in: UnsafeRawBufferPointer($0), key: key) }.map { range in
            query[utf8.index(utf8.startIndex, offsetBy: range.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: range.upperBound)]
        }
    }

    /// Offsets of the value of the first `key=` (or bare `key`) parameter in `bytes`.
    private static func valueRange(in bytes: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) -> Range<Int>? {
        guard let base = bytes.baseAddress else { return nil }
        var start = 0
        while start < bytes.count {
            let end = memchr(base + start, Int32(UInt8(ascii: "&")), bytes.count - start).map { base.distance(to: $0) } ?? bytes.count
            let equals = memchr(base + start, Int32(UInt8(ascii: "=")), end - start).map { base.distance(to: $0) }
            let nameEnd = equals ?? end
            if nameEnd - start == key.count && memcmp(base + start, key.baseAddress!, key.count) == 0 {
                guard let equals else { return end..<end }
                return (equals + 1)..<end
            }
            start = end + 1
        }
        return nil
    }

    /// Form-style decoding (`+` is a space); nil for broken escapes or bytes that are not UTF-8.
    public static func percentDecode(_ text: Substring) -> String? {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let c = iterator.next() {
            switch c {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(c)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `Authorization: Bearer T`, then `?token=T`, then the `usher_token` cookie.
    /// A slice of the request where possible: tokens are copied only when verified for the first time.
    public static func token(authorization: String?, query: Substring, cookie: String?) -> Substring? {
        if let authorization, let token = bearer(authorization) { return token }
        if let raw = queryValue(query, "token"), !raw.isEmpty {
            // JWTs are base64url and need no decoding; anything escaped is decoded (and then copied).
            if !needsDecoding(raw) { return raw }
            return percentDecode(raw).map { Substring($0) } ?? raw
        }
        if let cookie, let value = cookieValue(cookie[...], "usher_token"), !value.isEmpty { return value }
        return nil
    }

    private static func needsDecoding(_ text: Substring) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { bytes in
            guard let base = bytes.baseAddress else { return false }
            return memchr(base, Int32(UInt8(ascii: "%")), bytes.count) != nil || memchr(base, Int32(UInt8(ascii: "+")), bytes.count) != nil
        } ?? text.utf8.contains { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }
    }

    /// The credentials of `Bearer <token>` (scheme case-insensitive), or nil for other schemes.
    public static func bearer(_ header: String) -> Substring? {
        let utf8 = header.utf8
        var i = utf8.startIndex
        while i < utf8.endIndex && utf8[i] == UInt8(ascii: " ") { i = utf8.index(after: i) }
        let scheme = "bearer".utf8
        var j = i
        for expected in scheme {
            guard j < utf8.endIndex, utf8[j] | 0x20 == expected else { return nil }
            j = utf8.index(after: j)
        }
        guard j < utf8.endIndex, utf8[j] == UInt8(ascii: " ") else { return nil }
        while j < utf8.endIndex && utf8[j] == UInt8(ascii: " ") { j = utf8.index(after: j) }
        var end = utf8.endIndex
        while end > j && utf8[utf8.index(before: end)] == UInt8(ascii: " ") { end = utf8.index(before: end) }
        return j < end ? header[j..<end] : nil
    }

    /// The value of cookie `name` in a `Cookie` header (`a=b; name=value`).
    public static func cookieValue(_ header: Substring, _ name: StaticString) -> Substring? {
        let utf8 = header.utf8
        let key = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        var start = utf8.startIndex
        while start < utf8.endIndex {
            while start < utf8.endIndex && utf8[start] == UInt8(ascii: " ") { start = utf8.index(after: start) }
            let end = utf8[start...].firstIndex(of: UInt8(ascii: ";")) ?? utf8.endIndex
            if let equals = utf8[start..<end].firstIndex(of: UInt8(ascii: "=")), utf8[start..<equals].elementsEqual(key) {
                return header[utf8.index(after: equals)..<end]
            }
            start = end == utf8.endIndex ? end : utf8.index(after: end)
        }
        return nil
    }

    public enum Download: Equatable, Sendable {
        case none
        /// `filename` nil: the key's last path segment.
        case attachment(filename: String?)
        case invalid
    }

    /// `download=1|true[&filename=NAME]`; `0`, `false` or absent: none; anything else is a 400.
    public static func download(_ query: Substring) -> Download {
        guard let value = queryValue(query, "download") else { return .none }
        if value.utf8.elementsEqual("0".utf8) || value.utf8.elementsEqual("false".utf8) { return .none }
        if value.utf8.elementsEqual("1".utf8) || value.utf8.elementsEqual("true".utf8) {
            guard let raw = queryValue(query, "filename") else { return .attachment(filename: nil) }
            guard let name = percentDecode(raw), !name.isEmpty else { return .invalid }
            return .attachment(filename: name)
        }
        return .invalid
    }
}
