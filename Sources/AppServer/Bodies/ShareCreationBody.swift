/// `POST /v1/shares`.
struct ShareCreationBody: Decodable {
    var requestID: String
    var ttlSeconds: Int
    var maxUses: Int?

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case ttlSeconds = "ttl_seconds"
        case maxUses = "max_uses"
    }
}
