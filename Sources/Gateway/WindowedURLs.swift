import SigV4

/// Presigned URLs of one event loop while their signing window lasts (`PRESIGN_WINDOW`), by object key.
///
/// With a window, every `/v` of one object within the window is answered with the same URL: signed at the
/// window's start, valid for the TTL plus the window (that is what lets browsers and CDNs cache it). Signing it
/// again per request (three HMACs, a SHA-256, the URL's percent-encoding and its `String`) was the largest part of a
/// cached `/v` that depends on nothing but the object and the window; a probe here costs a hash of the key and one
/// comparison (README § What each cut bought).
///
/// Only the plain URL is kept: a download's variant (`response-content-disposition`) and a share's URL (signed at
/// `now`, CONTRACT § /s) are signed each time. The presigner is fixed for the process's life, so an entry is right
/// for as long as its window. The table holds one window: a URL of an earlier window can never be served again, so
/// the table empties when the window turns, and a table full within a window drops one entry per new one (a
/// filter of the whole table on every store would cost a copy of it per miss once more videos than fit are asked).
final class WindowedURLs {
    private var entries: [String: PresignedURL] = [:]
    /// The signing time (window start) of every entry.
    private var window: Int64 = .min
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    /// The URL kept for `key`, when it was signed at `signingTime` (the current window's start).
    func url(key: String, signingTime: Int64) -> PresignedURL? {
        guard signingTime == window else { return nil }
        return entries[key]
    }

    /// Keeps `url`, signed at `signingTime`, for `key`. A store for an earlier window than the table's (the clock
    /// stepped back) is not kept.
    func store(_ url: PresignedURL, key: String, signingTime: Int64) {
        if signingTime != window {
            guard signingTime > window else { return }
            entries.removeAll(keepingCapacity: true)
            window = signingTime
        }
        if entries.count >= capacity && entries[key] == nil {
            entries.remove(at: entries.startIndex)
        }
        entries[key] = url
    }
}
