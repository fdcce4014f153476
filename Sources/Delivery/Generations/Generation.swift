/// A row of `generations`: one fal request and where its video lives.
public struct Generation: Sendable, Equatable {
    public enum Visibility: String, Sendable {
        case `private`, `public`

        /// The writers' rule (admin API, `usher import`): absent means private; anything but the two names is nil.
        public init?(parsing text: String?) {
            guard let text else {
                self = .private
                return
            }
            self.init(rawValue: text)
        }
    }

    public enum Status: String, Sendable {
        /// Registered; fal has not reported yet.
        case pending = "PENDING"
        /// fal reported the video; a mirror job is copying it.
        case mirroring = "MIRRORING"
        /// In our bucket at `objectKey`.
        case completed = "COMPLETED"
        /// fal failed, or mirroring gave up (`lastError` says why).
        case failed = "FAILED"
        /// Deleted on request or by retention: answered 410; the row stays 30 days (`fal_url` kept for support).
        case deleted = "DELETED"
    }

    public var requestID: String
    public var owner: String?
    public var visibility: Visibility
    public var status: Status
    public var falURL: String?
    public var cdnURL: String?
    public var objectKey: String?
    public var contentType: String?
    public var sizeBytes: Int64?
    /// RFC 3339 UTC, as the admin API shows it.
    public var mirroredAt: String?
    public var attempts: Int
    public var lastError: String?
    public var createdAt: String
    public var updatedAt: String
    /// RFC 3339 UTC: when retention deletes it (nil: kept for ever).
    public var expiresAt: String?
    /// RFC 3339 UTC, set with DELETED.
    public var deletedAt: String?

    public init(
        requestID: String, owner: String?, visibility: Visibility, status: Status, falURL: String?, cdnURL: String?, objectKey: String?,
        contentType: String?, sizeBytes: Int64?, mirroredAt: String?, attempts: Int, lastError: String?, createdAt: String, updatedAt: String,
        expiresAt: String? = nil, deletedAt: String? = nil
    ) {
        self.requestID = requestID
        self.owner = owner
        self.visibility = visibility
        self.status = status
        self.falURL = falURL
        self.cdnURL = cdnURL
        self.objectKey = objectKey
        self.contentType = contentType
        self.sizeBytes = sizeBytes
        self.mirroredAt = mirroredAt
        self.attempts = attempts
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.expiresAt = expiresAt
        self.deletedAt = deletedAt
    }

    /// Accepted lengths of `owner` in UTF-8 bytes, for every writer (admin API, `usher import`).
    public static let ownerBytes = 1...256
    /// Accepted lengths of `object_key` in UTF-8 bytes (S3's own limit), for every writer.
    public static let objectKeyBytes = 1...1024

    /// The one rule for an `object_key` a caller names (admin API, `usher import`): 1 to 1024 bytes, no control
    /// characters (AWS's "characters to avoid"), and a key that every S3-compatible store holds as an object. Stores that keep objects as files (SeaweedFS, MinIO) refuse a
    /// `.` or `..` segment (400), fail on a key of slashes alone (500), and keep a key ending in `/` or `\` as a
    /// folder, so the object could be neither read back nor deleted; AWS lists such keys among those to avoid. The
    /// schemathesis run found one (`/`): its DELETE could never finish. `openapi.yaml` states the same rule.
    public static func isValidObjectKey(_ key: String) -> Bool {
        let bytes = key.utf8
        guard objectKeyBytes.contains(bytes.count), !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return false }
        if let last = bytes.last, last == UInt8(ascii: "/") || last == UInt8(ascii: "\\") { return false }
        return !bytes.split(omittingEmptySubsequences: false, whereSeparator: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") })
            .contains { $0.elementsEqual(".".utf8) || $0.elementsEqual("..".utf8) }
    }

    /// What the gateway needs to answer `/v/{id}`.
    public var delivery: DeliveryRecord {
        DeliveryRecord(status: status, visibility: visibility, owner: owner, objectKey: objectKey, falURL: falURL)
    }
}
