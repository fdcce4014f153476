/// The few fields the gateway reads per request; cached in-process and in Redis.
public struct DeliveryRecord: Sendable, Equatable {
    public var status: Generation.Status
    public var visibility: Generation.Visibility
    public var owner: String?
    public var objectKey: String?
    public var falURL: String?

    public init(status: Generation.Status, visibility: Generation.Visibility, owner: String?, objectKey: String?, falURL: String?) {
        self.status = status
        self.visibility = visibility
        self.owner = owner
        self.objectKey = objectKey
        self.falURL = falURL
    }
}
