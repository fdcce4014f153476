internal import CLibPQ

/// A query's rows, copied out of the `PGresult` as text (PostgreSQL's text format).
public struct PQRows: Sendable {
    public let columns: [String]
    public let rows: [[String?]]
    /// Rows affected by INSERT/UPDATE/DELETE.
    public let affected: Int

    init(_ result: OpaquePointer) {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for r in 0..<rowCount {
            rows.append(
                (0..<columnCount).map { c in
                    PQgetisnull(result, Int32(r), Int32(c)) == 1 ? nil : String(cString: PQgetvalue(result, Int32(r), Int32(c)))
                })
        }
        self.rows = rows
        affected = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    public var isEmpty: Bool { rows.isEmpty }

    /// Rows as name → value, for readable decoding.
    public var records: [PQRecord] { rows.map { PQRecord(columns: columns, values: $0) } }
}
