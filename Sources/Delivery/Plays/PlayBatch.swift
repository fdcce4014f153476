import UsherCrypto

/// One event loop's plays since its last flush. Confined to its loop (no lock): the edge records into it, and the
/// flusher swaps it out with a task on the same loop.
final class PlayBatch {
    struct Tally {
        var counts = PlayCounts()
        /// Hashed viewer identities; plays of one viewer add nothing after the first.
        var viewers: Set<UInt64> = []
    }

    /// A generation-day in the batch: its id a `Substring`, so that a play of one already here is found with the id
    /// as it lies in the request, without copying it; an id is stored as a string of its own (`Plays.record`), so
    /// that the batch does not keep a request's URL alive.
    struct Key: Hashable {
        let requestID: Substring
        let day: PlayDay
    }

    var tallies: [Key: Tally] = [:]
    /// `USHER_PLAY_LOG` lines waiting to be written (off the loop, by the flusher).
    var logLines: [String] = []
    /// The daily keys viewer identities are hashed with, today's and tomorrow's (fetched ahead, so a play after
    /// midnight is hashed with its own day's key before the next flush); replaced by the flusher.
    var keys: [PlayDay: SipHashKey]
    /// For a day whose key is not here (the shared store unreachable).
    let fallback: SipHashKey

    init(keys: [PlayDay: SipHashKey], fallback: SipHashKey) {
        self.keys = keys
        self.fallback = fallback
    }

    func key(for day: PlayDay) -> SipHashKey { keys[day] ?? fallback }

    /// The next batch starts with room for as many generation-days as this one held, so a steady load does not
    /// grow (and rehash) the dictionary again every period.
    func take() -> (tallies: [PlayKey: Tally], logLines: [String]) {
        let taken = Dictionary(uniqueKeysWithValues: tallies.lazy.map { (PlayKey(requestID: String($0.key.requestID), day: $0.key.day), $0.value) })
        let lines = logLines
        tallies = Dictionary(minimumCapacity: taken.count)
        logLines = []
        return (taken, lines)
    }
}
