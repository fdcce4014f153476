/// What `POST /webhooks/fal` answers: the request id and what the webhook did.
struct WebhookReceiptBody: Encodable {
    let requestID: String
    let result: String

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case result
    }
}
