/// `POST /v1/generations`.
struct GenerationRegistrationBody: Decodable {
    var requestID: String
    var owner: String?
    var visibility: String?
    var objectKey: String?
    var expiresAt: String?

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case owner, visibility
        case objectKey = "object_key"
        case expiresAt = "expires_at"
    }
}
