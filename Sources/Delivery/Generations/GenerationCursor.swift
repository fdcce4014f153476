import UsherCrypto

/// A position in the newest-first order: the last row's exact `created_at` (microseconds, as PostgreSQL keeps it)
/// and its id, which breaks ties. Rows registered after a page was read sort before it, so paging on is stable
/// while the library grows: no duplicates, no gaps.
public struct GenerationCursor: Sendable, Equatable {
    /// RFC 3339 UTC with microseconds.
    public var createdAt: String
    public var requestID: String

    public init(createdAt: String, requestID: String) {
        self.createdAt = createdAt
        self.requestID = requestID
    }
}

extension GenerationCursor {
    /// The cursor as the API hands it out: opaque (base64url of `created_at id`), so clients pass it back as is.
    public var token: String { Base64URL.encode(Array("\(createdAt) \(requestID)".utf8)) }

    /// nil for a token this API did not make (the time's value is checked by the store).
    public init?(token: String) {
        guard token.utf8.count <= 512, let bytes = Base64URL.decode(token), let text = String(validating: bytes, as: UTF8.self),
            let space = text.firstIndex(of: " ")
        else { return nil }
        let createdAt = String(text[..<space])
        let requestID = String(text[text.index(after: space)...])
        guard !createdAt.isEmpty, createdAt.utf8.count <= 64, RequestID.isValid(requestID) else { return nil }
        self.init(createdAt: createdAt, requestID: requestID)
    }
}
