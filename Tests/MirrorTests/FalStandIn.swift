import Foundation
import Hummingbird
import NIOCore
import Synchronization
import UsherCrypto

/// A local stand-in for fal.media: deterministic files of any size, an ffmpeg MP4, redirects, errors, and
/// downloads cut mid-stream or slowed down, with a log of every request it saw.
final class FalStandIn: Sendable {
    let port: Int
    private let task: Task<Void, any Error>
    private let log: RequestLog

    var base: String { "http://127.0.0.1:\(port)" }

    func stop() { task.cancel() }

    /// Requests seen for a path (without the query).
    func requests(_ path: String) -> Int { log.counts.withLock { $0[path] ?? 0 } }

    /// Byte `i` of generated file `name`.
    static func bytes(name: String, count: Int) -> [UInt8] {
        let seed = UInt8(truncatingIfNeeded: name.utf8.reduce(0) { $0 &+ Int($1) })
        return (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ ($0 >> 13)) &+ seed }
    }

    private init(port: Int, task: Task<Void, any Error>, log: RequestLog) {
        self.port = port
        self.task = task
        self.log = log
    }

    static func start(mp4: Data, jwks: String = #"{"keys":[]}"#) async throws -> FalStandIn {
        let log = RequestLog()
        let router = Router()
        router.get("jwks") { _, _ -> Response in
            log.counts.withLock { $0["/jwks", default: 0] += 1 }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: jwks)))
        }
        router.get("files/{name}") { request, context -> Response in
            let name = context.parameters.get("name") ?? "x"
            let path = "/files/\(name)"
            let seen = log.counts.withLock { log -> Int in
                log[path, default: 0] += 1
                return log[path]!
            }
            let size = request.uri.queryParameters.get("size").flatMap { Int($0) } ?? 1000
            let cut = request.uri.queryParameters.get("cut").flatMap { Int($0) } ?? 0
            let slowMilliseconds = request.uri.queryParameters.get("slow").flatMap { Int($0) } ?? 0
            let content = FalStandIn.bytes(name: name, count: size)
            let body = ResponseBody { writer in
                let chunk = 256 * 1024
                var offset = 0
                while offset < size {
                    if seen <= cut && offset >= size / 2 { throw CancellationError() }  // the connection drops
                    let end = min(size, offset + chunk)
                    try await writer.write(ByteBuffer(bytes: content[offset..<end]))
                    offset = end
                    if slowMilliseconds > 0 { try await Task.sleep(for: .milliseconds(slowMilliseconds)) }
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "video/mp4", .contentLength: String(size)], body: body)
        }
        router.get("mp4/{name}") { _, context -> Response in
            log.counts.withLock { $0["/mp4/\(context.parameters.get("name") ?? "")", default: 0] += 1 }
            return Response(status: .ok, headers: [.contentType: "video/mp4"], body: .init(byteBuffer: ByteBuffer(bytes: mp4)))
        }
        router.get("redirect") { request, _ -> Response in
            log.counts.withLock { $0["/redirect", default: 0] += 1 }
            return Response(status: .found, headers: [.location: request.uri.queryParameters.get("to") ?? "/"])
        }
        router.get("status/{code}") { _, context -> Response in
            let code = context.parameters.get("code").flatMap { Int($0) } ?? 500
            log.counts.withLock { $0["/status/\(code)", default: 0] += 1 }
            return Response(status: .init(code: code))
        }
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            })
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        return FalStandIn(port: port, task: task, log: log)
    }
}

final class RequestLog: Sendable {
    let counts = Mutex<[String: Int]>([:])
}

/// A fal webhook signed the way fal signs: Ed25519 over request id, user id, timestamp and the body's SHA-256.
struct FalSigner {
    let key: Ed25519PrivateKey
    let userID = "user-42"

    static func make() throws -> FalSigner { FalSigner(key: try Ed25519PrivateKey()) }

    var jwks: String { #"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"fal-test","x":"\#(Base64URL.encode(key.publicKey.rawRepresentation))"}]}"# }

    func headers(
        requestID: String, body: Data, timestamp: Int64 = Int64(Date().timeIntervalSince1970), signer: Ed25519PrivateKey? = nil
    ) throws -> [(String, String)] {
        let message = FalWebhookMessage.bytes(requestID: requestID, userID: userID, timestamp: String(timestamp), body: [UInt8](body))
        let signature = try (signer ?? key).signature(for: message)
        return [
            ("X-Fal-Webhook-Request-Id", requestID), ("X-Fal-Webhook-User-Id", userID), ("X-Fal-Webhook-Timestamp", String(timestamp)),
            ("X-Fal-Webhook-Signature", Hex.encode(signature)), ("Content-Type", "application/json"),
        ]
    }

    static func okBody(requestID: String, url: String, contentType: String? = "video/mp4", fileSize: Int? = nil) -> Data {
        var video: [String: Any] = ["url": url]
        if let contentType { video["content_type"] = contentType }
        if let fileSize { video["file_size"] = fileSize }
        let object: [String: Any] = [
            "request_id": requestID, "gateway_request_id": requestID, "status": "OK", "payload": ["video": video], "error": NSNull(),
            "payload_error": NSNull(),
        ]
        return try! JSONSerialization.data(withJSONObject: object)
    }
}

/// The signed bytes, computed independently of `FalSignature.signedBytes`.
enum FalWebhookMessage {
    static func bytes(requestID: String, userID: String, timestamp: String, body: [UInt8]) -> [UInt8] {
        Array("\(requestID)\n\(userID)\n\(timestamp)\n\(SHA256.hash(body).hexString)".utf8)
    }
}
