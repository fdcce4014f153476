public import Delivery
import UsherCrypto

/// Every SQL statement about plays, in one place.
public struct PlayStore: PlayLedger {
    public let client: PQClient

    public init(client: PQClient) { self.client = client }

    /// `$1`..`$4`: parallel arrays (request ids, days as `YYYY-MM-DD`, plays, share plays), one row each.
    ///
    /// Runs every flush for every counted generation-day, so it is kept to what a row needs:
    /// - it changes no indexed column of a row already pending roll-up, so such an update is HOT, with no index
    ///   write (migration 0007);
    /// - it does not look each id up in `generations`: only a new row's foreign key is checked, by PostgreSQL. A
    ///   generation purged since its plays were counted fails the statement (`addKnown` then), which the 30 days a
    ///   deleted generation's row is kept make rare. Looking every id up cost a fifth of a 10,000-row flush.
    static let add = """
        INSERT INTO plays_daily (request_id, day, plays, share_plays)
        SELECT * FROM unnest($1::text[], $2::date[], $3::bigint[], $4::bigint[])
        \(addToRow)
        """

    /// `add` runs for every slice of every flush: prepared once per connection under this name.
    static let addName = "usher_plays_add"

    /// `add` for a batch that names a generation no longer stored: its days are skipped, not an error.
    static let addKnown = """
        INSERT INTO plays_daily (request_id, day, plays, share_plays)
        SELECT batch.request_id, batch.day, batch.plays, batch.share_plays
        FROM unnest($1::text[], $2::date[], $3::bigint[], $4::bigint[]) AS batch (request_id, day, plays, share_plays)
        WHERE EXISTS (SELECT 1 FROM generations g WHERE g.request_id = batch.request_id)
        \(addToRow)
        """

    /// A generation-day already counted: its counts grow, and it waits for the roll-up.
    static let addToRow = """
        ON CONFLICT (request_id, day) DO UPDATE
            SET plays = plays_daily.plays + EXCLUDED.plays, share_plays = plays_daily.share_plays + EXCLUDED.share_plays,
                updated_at = now(), rollup_pending = true
        """

    static let rows = """
        SELECT to_char(day, 'YYYY-MM-DD'), plays, share_plays, viewers, encode(sketch, 'hex')
        FROM plays_daily WHERE request_id = $1 AND day BETWEEN $2::date AND $3::date
        ORDER BY day
        """

    /// `xmin`: the transaction that wrote the row as read, so `rolledUp` can tell whether a flush came after.
    static let pending = """
        SELECT request_id, to_char(day, 'YYYY-MM-DD'), xmin::text FROM plays_daily
        WHERE rollup_pending
        ORDER BY day
        LIMIT $1::int
        """

    /// Without a sketch (Redis let the day go) the last copied count stays. The day stays listed when a flush wrote
    /// the row after `pending` read it (`xmin` in SET is the row's before this update).
    static let rolledUp = """
        UPDATE plays_daily
        SET viewers = CASE WHEN $4::text IS NULL THEN viewers ELSE $3::bigint END,
            sketch = COALESCE(decode($4::text, 'hex'), sketch), rolled_up_at = now(), rollup_pending = xmin::text <> $5
        WHERE request_id = $1 AND day = $2::date
        """

    /// Today's and yesterday's rows counted after their roll-up without being listed: written by a gateway that
    /// predates migration 0007 (its upsert does not set the flag). Older days are no longer counted.
    static let requeueMissed = """
        UPDATE plays_daily SET rollup_pending = true
        WHERE day >= current_date - 1 AND NOT rollup_pending AND rolled_up_at < updated_at
        """

    static let purge = "DELETE FROM plays_daily WHERE day < current_date - $1::int"

    public func add(_ counts: [PlayKey: PlayCounts]) async throws {
        guard !counts.isEmpty else { return }
        let parameters = Self.addParameters(counts)
        do {
            _ = try await client.query(prepared: Self.addName, Self.add, parameters)
        } catch let error as PQError where error.isForeignKeyViolation {
            _ = try await client.query(Self.addKnown, parameters)
        }
    }

    /// `add`'s four arrays, as Postgres array literals.
    static func addParameters(_ counts: [PlayKey: PlayCounts]) -> [String?] {
        let entries = Array(counts)
        // Request ids are [A-Za-z0-9._-] (quoted all the same); days and numbers need no quoting.
        func array(_ values: [String]) -> String { "{" + values.joined(separator: ",") + "}" }
        return [
            array(entries.map { "\"\($0.key.requestID)\"" }), array(entries.map { $0.key.day.description }),
            array(entries.map { String($0.value.plays) }), array(entries.map { String($0.value.sharePlays) }),
        ]
    }

    public func rows(requestID: String, from: PlayDay, to: PlayDay) async throws -> [PlayRow] {
        try await client.query(Self.rows, [requestID, from.description, to.description]).rows.compactMap { row in
            guard let day = row[0].flatMap({ PlayDay($0) }) else { return nil }
            return PlayRow(
                day: day, counts: PlayCounts(plays: row[1].flatMap { Int($0) } ?? 0, sharePlays: row[2].flatMap { Int($0) } ?? 0),
                viewers: row[3].flatMap { Int($0) } ?? 0, sketch: row[4].flatMap { Hex.decode($0) })
        }
    }

    public func pendingRollUp(limit: Int) async throws -> [PendingRollUp] {
        try await client.query(Self.pending, [String(limit)]).rows.compactMap { row in
            guard let id = row[0], let day = row[1].flatMap({ PlayDay($0) }), let version = row[2] else { return nil }
            return PendingRollUp(key: PlayKey(requestID: id, day: day), version: version)
        }
    }

    public func rolledUp(_ pending: PendingRollUp, viewers: Int, sketch: [UInt8]?) async throws {
        _ = try await client.query(
            Self.rolledUp,
            [pending.key.requestID, pending.key.day.description, String(viewers), sketch.map { Hex.encode($0) }, pending.version])
    }

    public func requeueMissed() async throws -> Int {
        try await client.query(Self.requeueMissed).affected
    }

    public func purge(olderThanDays days: Int) async throws -> Int {
        try await client.query(Self.purge, [String(days)]).affected
    }
}
