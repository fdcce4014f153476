import Delivery

/// A generation as `/v1/generations` shows it.
struct GenerationBody: Encodable {
    let generation: Generation

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case owner, visibility, status
        case falURL = "fal_url"
        case cdnURL = "cdn_url"
        case objectKey = "object_key"
        case mirroredAt = "mirrored_at"
        case attempts
        case lastError = "last_error"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case deletedAt = "deleted_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(generation.requestID, forKey: .requestID)
        try container.encode(generation.owner, forKey: .owner)
        try container.encode(generation.visibility.rawValue, forKey: .visibility)
        try container.encode(generation.status.rawValue, forKey: .status)
        try container.encode(generation.falURL, forKey: .falURL)
        try container.encode(generation.cdnURL, forKey: .cdnURL)
        try container.encode(generation.objectKey, forKey: .objectKey)
        try container.encode(generation.mirroredAt, forKey: .mirroredAt)
        try container.encode(generation.attempts, forKey: .attempts)
        try container.encode(generation.lastError, forKey: .lastError)
        try container.encode(generation.createdAt, forKey: .createdAt)
        try container.encode(generation.expiresAt, forKey: .expiresAt)
        try container.encode(generation.deletedAt, forKey: .deletedAt)
    }
}
