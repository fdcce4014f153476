public import AsyncHTTPClient
public import Delivery
import Foundation
public import NIOCore
import NIOHTTP1

/// What a successful mirror produced.
public struct MirroredObject: Sendable, Equatable {
    public let key: String
    public let contentType: String
    public let size: Int64
}

/// Copies one video from its source into the bucket, streaming: the download feeds parts of `partSize` bytes
/// that upload while it continues, so memory stays at a few parts whatever the file size.
public struct Mirrorer: Sendable {
    public let configuration: MirrorConfiguration
    let policy: SourcePolicy
    let http: HTTPClient
    let uploader: ObjectUploader

    public init(configuration: MirrorConfiguration, http: HTTPClient, uploader: ObjectUploader) {
        self.configuration = configuration
        self.policy = SourcePolicy(configuration: configuration)
        self.http = http
        self.uploader = uploader
    }

    /// The object key for a generation: `videos/{request_id}.{ext}`, so a retry overwrites rather than duplicates.
    public static func objectKey(requestID: String, contentType: String, sourcePath: String) -> String {
        objectKey(requestID: requestID, extension: fileExtension(contentType: contentType, sourcePath: sourcePath))
    }

    /// The one place the object key's shape is written: `videos/{request_id}.{extension}` (CONTRACT § Worker).
    static func objectKey(requestID: String, extension ext: String) -> String {
        "videos/\(requestID).\(ext)"
    }

    static let extensions: [String: String] = [
        "video/mp4": "mp4", "video/webm": "webm", "video/quicktime": "mov", "video/x-matroska": "mkv", "video/mpeg": "mpeg",
        "video/ogg": "ogv", "image/gif": "gif", "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "audio/mpeg": "mp3",
        "audio/wav": "wav", "application/octet-stream": "bin",
    ]

    static func fileExtension(contentType: String, sourcePath: String) -> String {
        knownExtension(contentType: contentType, sourcePath: sourcePath) ?? "mp4"
    }

    /// The extension the content type names, else the source path's; nil when neither says.
    static func knownExtension(contentType: String, sourcePath: String) -> String? {
        let mime = contentType.split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if let known = extensions[mime], known != "bin" { return known }
        let fromPath = (sourcePath as NSString).pathExtension.lowercased()
        if !fromPath.isEmpty, fromPath.count <= 5, fromPath.allSatisfy({ $0.isLetter || $0.isNumber }) { return fromPath }
        return nil
    }

    /// The stored object's key extension and Content-Type (CONTRACT § Worker): the payload's `content_type`, else the
    /// source's, else by the path's extension, else `application/octet-stream`. Empty types count as absent. The key
    /// keeps `.mp4` when nothing names a type.
    public static func objectType(payloadType: String?, sourceType: String?, sourcePath: String) -> (extension: String, contentType: String) {
        let announced = [payloadType, sourceType].lazy.compactMap { $0?.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty }
        let known = knownExtension(contentType: announced ?? "", sourcePath: sourcePath)
        return (known ?? "mp4", announced ?? known.flatMap(contentType(forExtension:)) ?? "application/octet-stream")
    }

    static func contentType(forExtension ext: String) -> String? {
        extensions.first { $0.value == ext && $0.key != "application/octet-stream" }?.key
    }

    public func mirror(_ job: MirrorJob) async throws -> MirroredObject {
        var target = try policy.check(job.sourceURL)
        try await policy.resolve(target)
        var response = try await fetch(target.url)
        var hops = 0
        while (300..<400).contains(Int(response.status.code)) {
            hops += 1
            guard hops <= 5, let location = response.headers.first(name: "location"),
                let next = URL(string: location, relativeTo: target.url)?.absoluteURL
            else {
                throw MirrorError(.sourceRefused, permanent: true, "redirect without a usable Location, or more than 5 redirects")
            }
            target = try policy.check(next.absoluteString)
            try await policy.resolve(target)
            response = try await fetch(target.url)
        }
        switch response.status.code {
        case 200: break
        case 400..<500: throw MirrorError(.sourceRefused, permanent: true, "source answered \(response.status.code)")
        default: throw MirrorError(.sourceUnavailable, permanent: false, "source answered \(response.status.code)")
        }
        let announced = response.headers.first(name: "content-length").flatMap { Int64($0) }
        if let announced, announced > configuration.maximumBytes {
            throw MirrorError(.tooLarge, permanent: true, "source is \(announced) bytes, over MIRROR_MAX_BYTES \(configuration.maximumBytes)")
        }
        if let fileSize = job.fileSize, fileSize > configuration.maximumBytes {
            throw MirrorError(.tooLarge, permanent: true, "fal announced \(fileSize) bytes, over MIRROR_MAX_BYTES \(configuration.maximumBytes)")
        }
        let (ext, contentType) = Self.objectType(
            payloadType: job.contentType, sourceType: response.headers.first(name: "content-type"), sourcePath: target.url.path)
        if let announced, let fileSize = job.fileSize, announced != fileSize {
            throw MirrorError(.sizeMismatch, permanent: true, "source sends \(announced) bytes, fal announced \(fileSize)")
        }
        let key = Self.objectKey(requestID: job.requestID, extension: ext)
        // Checked inside `stream`, before the object is completed: a short or long body never lands in the bucket.
        let size = try await stream(response.body, to: key, contentType: contentType, expected: announced ?? job.fileSize)
        return MirroredObject(key: key, contentType: contentType, size: size)
    }

    private func fetch(_ url: URL) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.headers.add(name: "User-Agent", value: "usher-mirror")
        do {
            return try await http.execute(request, timeout: .seconds(30))
        } catch {
            throw MirrorError(.sourceUnavailable, permanent: false, "fetching the source failed: \(error)")
        }
    }

    /// Streams `body` into S3 under `key`; returns the byte count. Aborts a multipart upload on any failure.
    private func stream(_ body: HTTPClientResponse.Body, to key: String, contentType: String, expected: Int64?) async throws -> Int64 {
        let partSize = configuration.partSize
        let maximum = configuration.maximumBytes
        let uploader = self.uploader
        var pending = ByteBuffer()
        pending.reserveCapacity(partSize)
        var total: Int64 = 0
        var uploadID: String?
        var parts: [(number: Int, etag: String)] = []
        var nextPart = 1
        do {
            try await withThrowingTaskGroup(of: (Int, String).self) { group in
                var inFlight = 0
                func launch(_ part: ByteBuffer) async throws {
                    if uploadID == nil { uploadID = try await uploader.createMultipartUpload(key: key, contentType: contentType) }
                    if inFlight == configuration.partsInFlight, let done = try await group.next() {
                        parts.append(done)
                        inFlight -= 1
                    }
                    let (id, number) = (uploadID!, nextPart)
                    nextPart += 1
                    inFlight += 1
                    group.addTask { (number, try await uploader.uploadPart(key: key, uploadID: id, number: number, body: part)) }
                }
                do {
                    for try await var chunk in body {
                        total += Int64(chunk.readableBytes)
                        if total > maximum {
                            throw MirrorError(.tooLarge, permanent: true, "source exceeded MIRROR_MAX_BYTES \(maximum)")
                        }
                        // Fill the part in place; a full part is handed to its upload whole and a fresh one
                        // started, so no part is ever copied or resized.
                        while chunk.readableBytes > 0 {
                            var piece = chunk.readSlice(length: min(chunk.readableBytes, partSize - pending.readableBytes))!
                            pending.writeBuffer(&piece)
                            if pending.readableBytes == partSize {
                                try await launch(pending)
                                pending = ByteBuffer()
                                pending.reserveCapacity(partSize)
                            }
                        }
                    }
                } catch let error as MirrorError {
                    throw error
                } catch {
                    if Task.isCancelled { throw CancellationError() }
                    throw MirrorError(.sourceUnavailable, permanent: false, "download broke after \(total) bytes: \(error)")
                }
                if let expected, expected != total {
                    throw MirrorError(.sizeMismatch, permanent: false, "received \(total) bytes, expected \(expected)")
                }
                if uploadID == nil {
                    try await uploader.putObject(key: key, body: pending, contentType: contentType)
                    return
                }
                if pending.readableBytes > 0 { try await launch(pending) }
                for try await done in group { parts.append(done) }
                try await uploader.completeMultipartUpload(key: key, uploadID: uploadID!, parts: parts)
            }
        } catch {
            if let uploadID {
                // Not cancelled with us: parts must not be left behind even when shutdown cancels the mirror.
                await Task.detached { await uploader.abortMultipartUpload(key: key, uploadID: uploadID) }.value
            }
            throw error
        }
        return total
    }
}
