/// One page of an owner's library, newest first.
public struct GenerationPage: Sendable, Equatable {
    /// Accepted `limit`s, for every reader (admin API); default 50.
    public static let limits = 1...200
    public static let defaultLimit = 50

    public var items: [Generation]
    /// Where the next page starts; nil on the last page.
    public var next: GenerationCursor?

    public init(items: [Generation], next: GenerationCursor?) {
        self.items = items
        self.next = next
    }
}
