@_spi(Fuzzing) import Gateway
import NIOHTTP1

extension [EdgeRequestHead.Field: String] {
    /// The fields the edge's decoder would keep from `headers`: the first of each name it reads, the trusted proxy
    /// header's last (names compared without case, as the decoder does).
    init(_ headers: HTTPHeaders, trustedProxyHeader: String?) {
        self.init()
        let names: [(String, EdgeRequestHead.Field)] = [
            ("authorization", .authorization), ("cookie", .cookie), ("user-agent", .userAgent), ("origin", .origin),
        ]
        for (name, field) in names {
            if let value = headers.first(name: name) { self[field] = value }
        }
        if let trustedProxyHeader, let value = headers[trustedProxyHeader].last { self[.trustedProxy] = value }
    }
}
