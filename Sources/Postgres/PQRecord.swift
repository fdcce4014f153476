/// One row as column name → text value.
public struct PQRecord: Sendable {
    let columns: [String]
    let values: [String?]

    public subscript(_ name: String) -> String? {
        guard let index = columns.firstIndex(of: name) else { return nil }
        return values[index]
    }
}
