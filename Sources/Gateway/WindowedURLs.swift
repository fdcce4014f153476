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
/// for as long as its window; a full table drops its entries from windows already over, then one entry per new one.
final class WindowedURLs {
    private struct Entry {
        let signingTime: Int64
        let url: PresignedURL
    }

    private var entries: [String: Entry] = [:]
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    /// The URL kept for `key`, when it was signed at `signingTime` (the current window's start).
    func url(key: String, signingTime: Int64) -> PresignedURL? {
        guard let entry = entries[key], entry.signingTime == signingTime else { return nil }
        return entry.url
    }

    func store(_ url: PresignedURL, key: String, signingTime: Int64) {
        if entries.count >= capacity && entries[key] == nil {
            entries = entries.filter { $0.value.signingTime >= signingTime }
            if entries.count >= capacity { entries.remove(at: entries.startIndex) }
        }
        entries[key] = Entry(signingTime: signingTime, url: url)
    }
}
