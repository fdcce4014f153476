public import Delivery

/// The one reading of a delivery record from SQL: every statement that returns one selects `columns`, in order.
extension DeliveryRecord {
    static let columns = "status, visibility, owner, object_key, fal_url"

    /// A status this build does not know reads as FAILED (answered 410), never as servable.
    init(row: ArraySlice<String?>) {
        let first = row.startIndex
        self.init(
            status: Generation.Status(rawValue: row[first] ?? "") ?? .failed,
            visibility: Generation.Visibility(rawValue: row[first + 1] ?? "") ?? .private,
            owner: row[first + 2], objectKey: row[first + 3], falURL: row[first + 4])
    }
}
