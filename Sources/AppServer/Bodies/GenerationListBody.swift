import Delivery

/// `GET /v1/generations?owner=…`: `{items, next_cursor}`.
struct GenerationListBody: Encodable {
    let page: GenerationPage

    enum CodingKeys: String, CodingKey {
        case items
        case nextCursor = "next_cursor"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(page.items.map(GenerationBody.init(generation:)), forKey: .items)
        try container.encode(page.next?.token, forKey: .nextCursor)
    }
}
