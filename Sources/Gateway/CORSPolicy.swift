import NIOCore
import NIOHTTP1

/// `USHER_CORS_ORIGINS`: which web pages may read `/v` and `/s` answers from scripts (CONTRACT § CORS).
///
/// A plain `<video src>` needs none of this; players that fetch (MSE players, `<video crossorigin>` drawn to a
/// canvas, `fetch()` with `Authorization`) do, on both hops: this answer, then the bucket's (its own CORS rules).
/// Rules a reader can rely on:
/// - A listed origin gets itself back in `Access-Control-Allow-Origin` with `Access-Control-Allow-Credentials:
///   true`, so a player sending the `usher_token` cookie (`crossorigin="use-credentials"`) can read too.
/// - With `*`, any origin may read, but never with the viewer's cookies: a request carrying a `Cookie` gets no
///   grant, since echoing an arbitrary origin with credentials would let any site open a viewer's private videos.
/// - Every `/v` and `/s` answer says `Vary: Origin` once CORS is on: a public redirect is cacheable, and a shared
///   cache must not hand one origin's answer (with or without the grant) to another.
/// - An unlisted origin gets no CORS headers at all, so its scripts cannot read the answer.
public struct CORSPolicy: Sendable, Equatable {
    /// Origins as browsers send them: `scheme://host[:port]`, lowercase, without a path.
    public enum Origins: Sendable, Equatable {
        case any
        case listed(Set<String>)
    }

    public var origins: Origins
    /// `Access-Control-Max-Age` of a preflight: how long a browser may skip the next one. Chromium caps it at
    /// 7200 s, Firefox at 86400. Default 7200.
    public var maximumAge: Int = 7200

    public init(origins: Origins) { self.origins = origins }

    /// A malformed entry of `USHER_CORS_ORIGINS`, named in the message.
    public struct InvalidOrigin: Error, CustomStringConvertible {
        public let entry: String
        public let reason: String
        public var description: String { "'\(entry)' \(reason)" }
    }

    /// Parses `*` or comma-separated origins (`https://app.example.com,http://localhost:3000`). Each must be an
    /// http(s) origin as a browser sends it: no path, query or trailing `/`. `null` is refused, as it is the origin
    /// of sandboxed frames and `file:` pages, which anyone can create.
    public init(parsing value: String) throws(InvalidOrigin) {
        let entries = value.split(separator: ",").map { $0.trimmingASCIISpaces() }.filter { !$0.isEmpty }
        guard !entries.isEmpty else { throw InvalidOrigin(entry: value, reason: "names no origin (use * or scheme://host[:port])") }
        if entries == ["*"] {
            self.init(origins: .any)
            return
        }
        var listed = Set<String>()
        for entry in entries {
            if entry == "*" { throw InvalidOrigin(entry: entry, reason: "cannot be combined with listed origins") }
            if Self.asciiLowercased(entry) == "null" { throw InvalidOrigin(entry: entry, reason: "is the origin of sandboxed frames: not allowed") }
            let lower = Self.asciiLowercased(entry)
            let authority: Substring
            if lower.hasPrefix("http://") {
                authority = lower.dropFirst(7)
            } else if lower.hasPrefix("https://") {
                authority = lower.dropFirst(8)
            } else {
                throw InvalidOrigin(entry: entry, reason: "is not an http:// or https:// origin")
            }
            guard !authority.isEmpty,
                authority.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && !"/?#@\\,".utf8.contains($0) })
            else {
                throw InvalidOrigin(entry: entry, reason: "must be scheme://host[:port], without a path, query or trailing /")
            }
            listed.insert(lower)
        }
        self.init(origins: .listed(listed))
    }

    /// What this request may read: decided once per request from its `Origin` and whether it carries cookies.
    func grant(origin: String?, credentialed: Bool) -> CORSGrant {
        guard let origin else { return .varyOnly }
        switch origins {
        case .any:
            return credentialed ? .varyOnly : .anyOrigin
        case .listed(let listed):
            // The configured entry is what is written back, never the bytes received. Browsers send origins in
            // lowercase; an ASCII-uppercase one is folded to match (no Unicode folding: `\u{212A}` is no `k`).
            if let index = listed.firstIndex(of: origin) ?? listed.firstIndex(of: Self.asciiLowercased(origin)) {
                return .origin(listed[index])
            }
            return .varyOnly
        }
    }

    static func asciiLowercased(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else { return text }
        return String(decoding: text.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// The answer to `OPTIONS /v/…` or `/s/…`: 204, given before any token, rate-limit or lookup work, since a
    /// preflight carries no credentials and says nothing about the video.
    func preflight(_ grant: CORSGrant) -> EdgeReply {
        var reply = EdgeReply(
            status: .noContent, location: nil, caching: .noStore, contentType: nil, extraHeaders: [("Allow", "GET, HEAD, OPTIONS")], body: "")
        reply.cors = grant
        if grant.allows {
            reply.extraHeaders += [
                ("Access-Control-Allow-Methods", "GET, HEAD"),
                // Range: players fetch byte ranges, and only a single simple range is CORS-safelisted.
                ("Access-Control-Allow-Headers", "Authorization, Range"),
                ("Access-Control-Max-Age", String(maximumAge)),
            ]
        }
        return reply
    }
}

/// The CORS headers of one answer (`EdgeReply.encode` writes them).
enum CORSGrant: Equatable {
    /// No grant, but the answer depends on `Origin`.
    case varyOnly
    /// `Access-Control-Allow-Origin: *` (no credentials).
    case anyOrigin
    /// A listed origin, echoed, with credentials allowed.
    case origin(String)

    var allows: Bool { self != .varyOnly }

    /// Written after the other headers. `origin` is a configured entry (checked at start: printable ASCII, no
    /// path), so no CR or LF can reach the header.
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("\r\nVary: Origin")
        switch self {
        case .varyOnly:
            return
        case .anyOrigin:
            buffer.writeStaticString("\r\nAccess-Control-Allow-Origin: *")
        case .origin(let origin):
            buffer.writeStaticString("\r\nAccess-Control-Allow-Origin: ")
            buffer.writeString(origin)
            buffer.writeStaticString("\r\nAccess-Control-Allow-Credentials: true")
        }
        // A page reads a problem's body without this; it needs it to read when to retry and why a token failed.
        buffer.writeStaticString("\r\nAccess-Control-Expose-Headers: Retry-After, WWW-Authenticate")
    }
}

extension Substring {
    fileprivate func trimmingASCIISpaces() -> String {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return String(text)
    }
}
