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
    ///
    /// It carries the id's hash, made once per play and compared before the id: a dictionary compares the key of every
    /// occupied slot its probe passes, and with thousands of generation-days in a batch that was two or three id
    /// comparisons (a `memcmp` call each) per play, more than the hashing (README § Benchmarks: What each cut bought,
    /// d791a7d).
    struct Key: Hashable {
        let requestID: Substring
        let day: PlayDay
        let hash: Int

        init(requestID: Substring, day: PlayDay) {
            self.init(requestID: requestID, day: day, hash: requestID.hashValue)
        }

        /// `hash`: `requestID.hashValue`, already made.
        init(requestID: Substring, day: PlayDay, hash: Int) {
            self.requestID = requestID
            self.day = day
            self.hash = hash
        }

        static func == (lhs: Key, rhs: Key) -> Bool { lhs.hash == rhs.hash && lhs.day == rhs.day && lhs.requestID == rhs.requestID }

        func hash(into hasher: inout Hasher) {
            hasher.combine(hash)
            hasher.combine(day)
        }
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

    /// Hands the batch over as it is (the flusher copies the ids and frees it, off the loop); the next batch starts
    /// with room for as many generation-days as this one held, so a steady load does not grow (and rehash) the
    /// dictionary again every period.
    func take() -> (tallies: [Key: Tally], logLines: [String]) {
        let taken = tallies
        let lines = logLines
        tallies = Dictionary(minimumCapacity: taken.count)
        logLines = []
        return (taken, lines)
    }
}
