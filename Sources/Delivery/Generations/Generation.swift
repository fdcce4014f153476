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

    /// What `isValidObjectKey` asks, for the errors that refuse a key.
    public static let objectKeyRule = "1 to 1024 bytes, without control characters, a . or .. segment, or a trailing / or \\"

    /// The one rule for an `object_key` a caller names (admin API, `usher import`): 1 to 1024 bytes, and a key a
    /// store that keeps objects as files can hold as an object. Measured on SeaweedFS 4.48: a `.` or `..` segment is
    /// refused (400), a key of slashes or backslashes alone fails (DeleteObject 500, every time), and a key ending in
    /// `/` or a backslash is kept as a folder (a GET reads back nothing). Control characters are out too (AWS: "might
    /// require special handling"; a backslash is among its "characters to avoid"). The schemathesis run registered
    /// `/`, whose DELETE could then never finish. `openapi.yaml`'s pattern for `object_key` states the same rule.
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
