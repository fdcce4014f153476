public import Delivery
import Gateway
import HTTPTypes
import Hummingbird

/// `GET /demo/{id}?token=T` or `?share=CODE` (with `USHER_DEMO=1`): a player page whose `<video>` plays through the
/// edge (`/v/{id}?token=…` or `/s/{code}`), so a newcomer sees the whole path work in a browser.
struct DemoController<Context: RequestContext>: Sendable {
    /// `USHER_PUBLIC_URL`: where the browser reaches the edge.
    let publicURL: String

    func addRoutes(to router: Router<Context>) {
        router.get("demo/{id}", use: page)
    }

    @Sendable func page(request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard RequestID.isValid(id) else { throw ProblemError.notFound("No video with this id.") }
        let query = request.uri.queryParameters
        let source: String
        if let code = query.get("share") {
            guard ShareLinks.isValidCode(code) else { throw ProblemError.badRequest("share must be a share code.") }
            source = "\(publicURL)/s/\(code)"
        } else if let token = query.get("token") {
            guard !token.isEmpty, token.utf8.allSatisfy(Self.isTokenByte) else { throw ProblemError.badRequest("token must be a viewer token.") }
            source = "\(publicURL)/v/\(id)?token=\(token)"
        } else {
            source = "\(publicURL)/v/\(id)"
        }
        let shown = source.split(separator: "?").first.map(String.init) ?? source
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Usher demo: \(Self.escape(id))</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>body{font-family:system-ui,sans-serif;margin:2rem;background:#111;color:#eee}video{width:640px;max-width:100%;background:#000}code{color:#9cf}</style>
            </head><body>
            <h1>Usher demo</h1>
            <p>Generation <code>\(Self.escape(id))</code>, played through <code>\(Self.escape(shown))</code> → 302 → presigned URL of your bucket.</p>
            <video id="player" src="\(Self.escape(source))" controls muted autoplay loop playsinline preload="auto"></video>
            <p id="status">loading…</p>
            <script>
            const v = document.getElementById("player"), s = document.getElementById("status");
            function show() {
              s.textContent = "readyState " + v.readyState + " · currentTime " + v.currentTime.toFixed(2) + " s · duration " +
                (isFinite(v.duration) ? v.duration.toFixed(2) : "?") + " s" + (v.error ? " · error " + v.error.code : "");
            }
            for (const e of ["loadedmetadata", "canplay", "playing", "timeupdate", "seeked", "error"]) v.addEventListener(e, show);
            </script>
            </body></html>
            """
        return Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("Referrer-Policy")!: "no-referrer"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            true
        default: false
        }
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
