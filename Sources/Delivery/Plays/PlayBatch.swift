import UsherCrypto

/// One event loop's plays since its last flush. Confined to its loop (no lock): the edge records into it, and the
/// flusher swaps it out with a task on the same loop.
final class PlayBatch {
    struct Tally {
        var counts = PlayCounts()
        /// Hashed viewer identities; plays of one viewer add nothing after the first.
        var viewers: Set<UInt64> = []
    }

    var tallies: [PlayKey: Tally] = [:]
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
        let taken = (tallies, logLines)
        tallies = Dictionary(minimumCapacity: taken.0.count)
        logLines = []
        return taken
    }
}
