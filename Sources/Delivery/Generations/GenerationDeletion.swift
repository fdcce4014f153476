/// A generation just marked DELETED, with what must still be undone outside the row: the caches' copies, the
/// shares' cached records, and the object in the bucket.
public struct GenerationDeletion: Sendable, Equatable {
    public var requestID: String
    /// What the caches must now say (status DELETED).
    public var record: DeliveryRecord
    /// The object still to remove from the bucket; nil when there is none (never mirrored, or already removed).
    public var objectKey: String?
    /// The shares this deletion revoked (or found revoked).
    public var revokedShares: [RevokedShare]

    public init(requestID: String, record: DeliveryRecord, objectKey: String?, revokedShares: [RevokedShare]) {
        self.requestID = requestID
        self.record = record
        self.objectKey = objectKey
        self.revokedShares = revokedShares
    }
}
