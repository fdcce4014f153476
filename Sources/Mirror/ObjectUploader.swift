public import AsyncHTTPClient
public import Delivery
import Foundation
public import NIOCore
import NIOHTTP1
public import SigV4
import UsherCrypto

/// S3 uploads for the mirror over AsyncHTTPClient, header-signed with `RequestSigner`: one PUT for small
/// objects, CreateMultipartUpload / UploadPart / CompleteMultipartUpload for large ones, and
/// AbortMultipartUpload when anything fails, so no parts are left behind. Also the bucket deletions use
/// (`ObjectStorage`).
public struct ObjectUploader: ObjectStorage {
    let signer: RequestSigner
    let http: HTTPClient

    public init(s3: S3Configuration, http: HTTPClient) {
        self.signer = RequestSigner(configuration: s3)
        self.http = http
    }

    private static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    private func send(
        _ method: String, key: String?, query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = [],
        body: ByteBuffer? = nil
    ) async throws -> (status: UInt, headers: [(String, String)], body: String) {
        // Parts are not hashed for the signature: hashing is a second pass over every byte (≈ 0.7 s per GiB here),
        // and the byte count is checked end to end. Small control bodies (the completion XML) are signed.
        let payloadHash: String
        if let body, body.readableBytes <= 64 * 1024 {
            payloadHash = body.withUnsafeReadableBytes { SHA256.hash($0).hexString }
        } else {
            payloadHash = body == nil ? RequestSigner.emptyPayload : RequestSigner.unsignedPayload
        }
        let signed = signer.sign(S3Request(method: method, key: key, query: query, headers: headers), payloadHash: payloadHash, now: Self.now)
        var request = HTTPClientRequest(url: signed.url)
        request.method = .init(rawValue: method)
        for (name, value) in signed.headers where name != "host" { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
            request.body = .bytes(body)
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(120))
        } catch {
            throw MirrorError(.storage, permanent: false, "S3 \(method) failed: \(error)")
        }
        let text: String
        do {
            text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        } catch {
            throw MirrorError(.storage, permanent: false, "S3 \(method) answer broke: \(error)")
        }
        return (response.status.code, response.headers.map { ($0.name, $0.value) }, text)
    }

    private static func storageError(_ what: String, _ status: UInt, _ body: String) -> MirrorError {
        let code = element("Code", in: body) ?? "HTTP \(status)"
        // 4xx from S3 (bad credentials, missing bucket) will not heal by retrying quickly, but a later attempt
        // after an operator fix may: keep them transient so backoff applies.
        return MirrorError(.storage, permanent: false, "S3 \(what) answered \(status) \(code)")
    }

    public func putObject(key: String, body: ByteBuffer, contentType: String) async throws {
        let reply = try await send("PUT", key: key, headers: [("Content-Type", contentType)], body: body)
        guard reply.status == 200 else { throw Self.storageError("PutObject", reply.status, reply.body) }
    }

    public func createMultipartUpload(key: String, contentType: String) async throws -> String {
        let reply = try await send("POST", key: key, query: [("uploads", "")], headers: [("Content-Type", contentType)])
        guard reply.status == 200, let uploadID = Self.element("UploadId", in: reply.body) else {
            throw Self.storageError("CreateMultipartUpload", reply.status, reply.body)
        }
        return uploadID
    }

    /// Returns the part's ETag.
    public func uploadPart(key: String, uploadID: String, number: Int, body: ByteBuffer) async throws -> String {
        let reply = try await send("PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)], body: body)
        guard reply.status == 200, let etag = reply.headers.first(where: { $0.0.lowercased() == "etag" })?.1 else {
            throw Self.storageError("UploadPart", reply.status, reply.body)
        }
        return etag
    }

    public func completeMultipartUpload(key: String, uploadID: String, parts: [(number: Int, etag: String)]) async throws {
        let xml =
            "<CompleteMultipartUpload>"
            + parts.sorted { $0.number < $1.number }.map { "<Part><PartNumber>\($0.number)</PartNumber><ETag>\(Self.escape($0.etag))</ETag></Part>" }
            .joined()
            + "</CompleteMultipartUpload>"
        let reply = try await send(
            "POST", key: key, query: [("uploadId", uploadID)], headers: [("Content-Type", "application/xml")], body: ByteBuffer(string: xml))
        // S3 may answer 200 with an <Error> body when completion fails late.
        guard reply.status == 200, !reply.body.contains("<Error>") else {
            throw Self.storageError("CompleteMultipartUpload", reply.status, reply.body)
        }
    }

    public func abortMultipartUpload(key: String, uploadID: String) async {
        _ = try? await send("DELETE", key: key, query: [("uploadId", uploadID)])
    }

    /// DeleteObject, after aborting every unfinished multipart upload of exactly this key (a worker that died
    /// mid-upload leaves one, and its parts are billed). S3 answers 204 for a key that is not there, so running
    /// this again is harmless.
    public func removeObject(key: String) async throws {
        let listing = try await send("GET", key: nil, query: [("uploads", ""), ("prefix", key)])
        guard listing.status == 200 else { throw Self.storageError("ListMultipartUploads", listing.status, listing.body) }
        for upload in Self.uploads(in: listing.body) where upload.key == key {
            let aborted = try await send("DELETE", key: key, query: [("uploadId", upload.id)])
            // 404 NoSuchUpload: it finished or was aborted meanwhile.
            guard aborted.status == 204 || aborted.status == 200 || aborted.status == 404 else {
                throw Self.storageError("AbortMultipartUpload", aborted.status, aborted.body)
            }
        }
        let deleted = try await send("DELETE", key: key)
        guard deleted.status == 204 || deleted.status == 200 || deleted.status == 404 else {
            throw Self.storageError("DeleteObject", deleted.status, deleted.body)
        }
    }

    /// `<Upload><Key>…</Key><UploadId>…</UploadId>…</Upload>` entries of a ListMultipartUploads answer.
    static func uploads(in xml: String) -> [(key: String, id: String)] {
        xml.components(separatedBy: "<Upload>").dropFirst().compactMap { entry in
            guard let key = element("Key", in: entry), let id = element("UploadId", in: entry) else { return nil }
            return (unescape(key), unescape(id))
        }
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }

    static func element(_ name: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(name)>"), let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex) else {
            return nil
        }
        return String(xml[start.upperBound..<end.lowerBound])
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
