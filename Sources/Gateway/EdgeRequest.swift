/// Parsing of what the edge accepts: the route, the query and the viewer token's three hiding places.
enum EdgeRoute: Equatable {
    case video(Substring)
    case share(Substring)
    case healthz
    case readyz
    /// A path the edge does not serve.
    case unknown
    /// `/v/…` or `/s/…` with an id that cannot exist (CONTRACT: 404 before anything else).
    case malformedID
}

enum EdgeRequest {
    /// The most a URL may be (CONTRACT: longer → 414).
    static let maximumURILength = 8192

    /// Splits `/v/{id}?query` into route and raw query.
    static func parse(uri: String) -> (route: EdgeRoute, query: Substring) {
        let question = uri.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = question.map { uri[..<$0] } ?? uri[...]
        let query = question.map { uri[uri.index(after: $0)...] } ?? ""
        let route: EdgeRoute
        if path.hasPrefix("/v/") {
            let id = path.dropFirst(3)
            route = isValidID(id) ? .video(id) : .malformedID
        } else if path.hasPrefix("/s/") {
            let code = path.dropFirst(3)
            route = isValidID(code) ? .share(code) : .malformedID
        } else if path == "/healthz" {
            route = .healthz
        } else if path == "/readyz" {
            route = .readyz
        } else {
            route = .unknown
        }
        return (route, query)
    }

    static func isValidID(_ id: Substring) -> Bool { RequestID.isValid(id) }

    /// The raw (still percent-encoded) value of the first `name=` parameter.
    static func queryValue(_ query: Substring, _ name: String) -> Substring? {
        guard !query.isEmpty else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            if let equals = pair.firstIndex(of: "=") {
                if pair[..<equals] == name { return pair[pair.index(after: equals)...] }
            } else if pair == name {
                return ""
            }
        }
        return nil
    }

    /// Form-style decoding (`+` is a space); nil for broken escapes or bytes that are not UTF-8.
    static func percentDecode(_ text: Substring) -> String? {
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
    static func token(authorization: String?, query: Substring, cookie: String?) -> String? {
        if let authorization {
            let trimmed = authorization.drop { $0 == " " }
            if trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " {
                let token = trimmed.dropFirst(7).drop { $0 == " " }
                if !token.isEmpty { return String(token) }
            }
        }
        if let raw = queryValue(query, "token"), !raw.isEmpty {
            return percentDecode(raw) ?? String(raw)
        }
        if let cookie {
            for part in cookie.split(separator: ";") {
                let pair = part.drop { $0 == " " }
                if pair.hasPrefix("usher_token=") {
                    let value = pair.dropFirst("usher_token=".count)
                    if !value.isEmpty { return String(value) }
                }
            }
        }
        return nil
    }

    enum Download: Equatable {
        case none
        /// `filename` nil: the key's last path segment.
        case attachment(filename: String?)
        case invalid
    }

    /// `download=1|true[&filename=NAME]`; `0`, `false` or absent: none; anything else is a 400.
    static func download(_ query: Substring) -> Download {
        guard let value = queryValue(query, "download") else { return .none }
        switch value {
        case "0", "false": return .none
        case "1", "true":
            guard let raw = queryValue(query, "filename") else { return .attachment(filename: nil) }
            guard let name = percentDecode(raw), !name.isEmpty else { return .invalid }
            return .attachment(filename: name)
        default: return .invalid
        }
    }
}

/// The shape of a generation id, shared by the edge, the admin API and the importer.
public enum RequestID {
    /// 1–128 of `[A-Za-z0-9._-]`, not `.` or `..` (fal request ids are UUIDs).
    public static func isValid(_ id: some StringProtocol) -> Bool {
        let bytes = id.utf8
        guard (1...128).contains(bytes.count), id != ".", id != ".." else { return false }
        for c in bytes {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return true
    }
}
