import Delivery

/// A share link as `POST /v1/shares` answers it.
struct ShareBody: Encodable {
    let share: Share
    /// `USHER_PUBLIC_URL/s/{code}`.
    let url: String

    enum CodingKeys: String, CodingKey {
        case code, url
        case requestID = "request_id"
        case expiresAt = "expires_at"
        case maxUses = "max_uses"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(share.code, forKey: .code)
        try container.encode(url, forKey: .url)
        try container.encode(share.requestID, forKey: .requestID)
        try container.encode(share.expiresAt, forKey: .expiresAt)
        try container.encode(share.maxUses, forKey: .maxUses)
    }
}
