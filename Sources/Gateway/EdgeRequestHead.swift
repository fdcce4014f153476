import NIOCore
public import NIOHTTP1

/// One request as the edge's decoder (`EdgeRequestDecoder`) read it: what `EdgeHandler` and `EdgeService` need of a
/// head, and nothing more.
///
/// Why not NIOHTTP1's `HTTPRequestHead`: that is a class-backed head plus an array of `String` pairs, three heap
/// allocations per request before any of the edge's own work (issue 17 counted 7 in all for a cached `/v`). This
/// holds the head's bytes as a slice of the read buffer (no copy) and where the few fields the edge reads lie in
/// them; a field becomes a `String` only when it is read, and most requests read none or one.
///
/// A class, so that passing it down the pipeline (`NIOAny`) stores a reference rather than boxing a large value, and
/// the decoder fills the same instance again for the next request once nothing else holds it (`recycled`): a
/// connection's requests allocate no head in steady state. It is `@unchecked Sendable` on that rule: it changes only
/// in the decoder, on the connection's loop, while the decoder's is the only reference; everyone else reads it.
@_spi(Fuzzing)
public final class EdgeRequestHead: @unchecked Sendable {
    /// The fields the edge reads (README § The edge's request decoder); the decoder keeps no other.
    public enum Field: Int, CaseIterable, Sendable {
        case authorization, cookie, userAgent, origin
        /// `GatewayConfiguration.trustedProxyHeader`, when configured.
        case trustedProxy
    }

    public private(set) var method: HTTPMethod
    public private(set) var version: HTTPVersion
    /// What NIOHTTP1's `isKeepAlive` would say (llhttp's rule: HTTP/1.1 unless a `Connection` token `close`, HTTP/1.0
    /// only with a token `keep-alive`).
    public private(set) var isKeepAlive: Bool
    /// The request target, as sent (origin-form, at most `EdgeRequest.maximumURILength` bytes).
    public private(set) var uri: String
    /// The head's bytes; `fields` are offsets into them.
    private var bytes: ByteBuffer
    private var fields: Fields

    /// The value of the first occurrence of each field, but the trusted proxy header's last (the one the proxy in
    /// front appended): `(offset, length)` into `bytes`, length -1 when absent.
    struct Fields: Sendable {
        var spans: (Span, Span, Span, Span, Span) = (.absent, .absent, .absent, .absent, .absent)

        struct Span: Sendable {
            var offset: Int32
            var length: Int32
            static let absent = Span(offset: 0, length: -1)
        }

        subscript(field: Field) -> Span {
            get {
                switch field {
                case .authorization: spans.0
                case .cookie: spans.1
                case .userAgent: spans.2
                case .origin: spans.3
                case .trustedProxy: spans.4
                }
            }
            set {
                switch field {
                case .authorization: spans.0 = newValue
                case .cookie: spans.1 = newValue
                case .userAgent: spans.2 = newValue
                case .origin: spans.3 = newValue
                case .trustedProxy: spans.4 = newValue
                }
            }
        }
    }

    init(method: HTTPMethod, version: HTTPVersion, isKeepAlive: Bool, uri: String, bytes: ByteBuffer, fields: Fields) {
        self.method = method
        self.version = version
        self.isKeepAlive = isKeepAlive
        self.uri = uri
        self.bytes = bytes
        self.fields = fields
    }

    /// `head` refilled when the caller holds the only reference to it, else a new head.
    static func recycled(
        _ head: inout EdgeRequestHead?, method: HTTPMethod, version: HTTPVersion, isKeepAlive: Bool, uri: String, bytes: ByteBuffer, fields: Fields
    ) -> EdgeRequestHead {
        if head != nil && isKnownUniquelyReferenced(&head!) {
            let reused = head!
            reused.method = method
            reused.version = version
            reused.isKeepAlive = isKeepAlive
            reused.uri = uri
            reused.bytes = bytes
            reused.fields = fields
            return reused
        }
        let made = EdgeRequestHead(method: method, version: version, isKeepAlive: isKeepAlive, uri: uri, bytes: bytes, fields: fields)
        head = made
        return made
    }

    /// A head made from parts rather than read (tests, and the edge service's callers that are not a connection):
    /// the same type the decoder gives, its fields laid out as a head would carry them.
    public convenience init(
        method: HTTPMethod = .GET, uri: String, version: HTTPVersion = .http1_1, isKeepAlive: Bool = true, fields: [Field: String] = [:]
    ) {
        var bytes = ByteBuffer()
        var spans = Fields()
        for field in Field.allCases {
            guard let value = fields[field] else { continue }
            bytes.writeString("X: ")
            spans[field] = Fields.Span(offset: Int32(bytes.writerIndex), length: Int32(value.utf8.count))
            bytes.writeString(value)
            bytes.writeString("\r\n")
        }
        self.init(method: method, version: version, isKeepAlive: isKeepAlive, uri: uri, bytes: bytes, fields: spans)
    }

    /// The field's value (trimmed of surrounding spaces and tabs), nil when the request did not carry it.
    public func value(_ field: Field) -> String? {
        let span = fields[field]
        guard span.length >= 0 else { return nil }
        return bytes.getString(at: bytes.readerIndex + Int(span.offset), length: Int(span.length))
    }

    public func contains(_ field: Field) -> Bool { fields[field].length >= 0 }

    // The method, asked by its case: `HTTPMethod`'s `==` is `RawRepresentable`'s, which makes and compares the two
    // `rawValue` strings, and the edge asks two or three times per request.
    var isGET: Bool { if case .GET = method { true } else { false } }
    var isHEAD: Bool { if case .HEAD = method { true } else { false } }
    var isOPTIONS: Bool { if case .OPTIONS = method { true } else { false } }
}
