/// The bucket, as deletion uses it (S3 through the mirror's client in production).
public protocol ObjectStorage: Sendable {
    /// Removes the object and aborts any unfinished multipart upload of its key. Removing what is not there
    /// succeeds, so a deletion can be run again after a crash.
    func removeObject(key: String) async throws
}
