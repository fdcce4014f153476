import Delivery

/// A revocation as `POST /v1/revocations` answers it. (The request is read with `JSONValue`, which refuses
/// duplicate members: `{"jti": "a", "jti": "b"}` must not revoke one and ignore the other.)
struct RevocationBody: Encodable {
    let revocation: Revocation

    enum CodingKeys: String, CodingKey { case kind, value, until }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(revocation.kind.rawValue, forKey: .kind)
        try container.encode(revocation.value, forKey: .value)
        try container.encode(revocation.until, forKey: .until)
    }
}
