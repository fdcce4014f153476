import DeliveryTesting

@testable import Delivery

extension DeliveryFixture {
    /// What the shared cache says of a generation now, read and decoded as the lookup does.
    func cachedRecord(_ id: String) -> DeliveryRecord? {
        cache.peek(String(decoding: DeliveryRecord.cacheKey(id), as: UTF8.self)).flatMap { DeliveryRecord(cacheValue: $0) }
    }
}
