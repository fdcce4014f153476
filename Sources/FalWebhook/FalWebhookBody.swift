import Foundation

/// fal's webhook body as sent. Every member is read leniently: one of another type than expected (a `null`
/// payload, a numeric `error`) counts as absent rather than failing the whole body, so only a body that is not a
/// JSON object, or lacks `request_id` or a known `status`, is refused (400) and retried by fal in vain.
struct FalWebhookBody: Decodable {
    var requestID: String?
    var status: String?
    var payload: Payload?
    var error: String?
    var payloadError: String?

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case status, payload, error
        case payloadError = "payload_error"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        requestID = try? container.decodeIfPresent(String.self, forKey: .requestID)
        status = try? container.decodeIfPresent(String.self, forKey: .status)
        payload = try? container.decodeIfPresent(Payload.self, forKey: .payload)
        error = try? container.decodeIfPresent(String.self, forKey: .error)
        payloadError = try? container.decodeIfPresent(String.self, forKey: .payloadError)
    }

    struct Payload: Decodable {
        var video: Video?

        enum CodingKeys: String, CodingKey { case video }

        init(from decoder: any Decoder) throws {
            video = try? decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(Video.self, forKey: .video)
        }
    }

    /// `payload.video`: fal's `File` (`url`, `content_type`, `file_size`, `file_name`).
    struct Video: Decodable {
        var url: String?
        var contentType: String?
        /// Bytes; a size that is not a whole number counts as not announced.
        var fileSize: Int64?

        enum CodingKeys: String, CodingKey {
            case url
            case contentType = "content_type"
            case fileSize = "file_size"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            url = try? container.decodeIfPresent(String.self, forKey: .url)
            contentType = try? container.decodeIfPresent(String.self, forKey: .contentType)
            fileSize =
                (try? container.decodeIfPresent(Int64.self, forKey: .fileSize))
                ?? (try? container.decodeIfPresent(Double.self, forKey: .fileSize)).flatMap { Int64(exactly: $0) }
        }
    }
}
