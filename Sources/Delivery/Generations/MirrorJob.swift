/// A claimed mirror job: what to fetch, and how many attempts it has had (this one included).
public struct MirrorJob: Sendable, Equatable {
    public let requestID: String
    public let sourceURL: String
    /// The `content_type` fal announced, if any.
    public let contentType: String?
    /// The `file_size` fal announced, if any.
    public let fileSize: Int64?
    public let attempts: Int

    public init(requestID: String, sourceURL: String, contentType: String?, fileSize: Int64?, attempts: Int) {
        self.requestID = requestID
        self.sourceURL = sourceURL
        self.contentType = contentType
        self.fileSize = fileSize
        self.attempts = attempts
    }
}
