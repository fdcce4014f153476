public import Delivery
import Logging
public import NIOCore
public import NIOPosix

/// The domain's services over the in-memory stores, wired as `UsherClients` wires them over Redis and Postgres.
public struct DeliveryFixture: Sendable {
    public let group: any EventLoopGroup
    public let cache: InMemoryCache
    public let store: InMemoryStore
    public let bucket: InMemoryBucket
    public let lookup: GenerationLookup
    public let generations: Generations
    public let shares: ShareLinks
    public let revocations: Revocations
    public let playLedger: InMemoryPlayLedger
    public let sketches: InMemorySketches
    public let plays: Plays

    public init(
        lookup configuration: GenerationLookup.Configuration = .init(), generations generationsConfiguration: Generations.Configuration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        let cache = InMemoryCache(eventLoop: group.next())
        let store = InMemoryStore()
        let bucket = InMemoryBucket()
        let lookup = GenerationLookup(configuration: configuration, cache: cache, store: store, group: group)
        let shares = ShareLinks(cache: cache, store: store)
        let revocations = Revocations(cache: cache, store: store, logger: Logger(label: "delivery-fixture"))
        self.group = group
        self.cache = cache
        self.store = store
        self.bucket = bucket
        self.lookup = lookup
        self.shares = shares
        self.revocations = revocations
        let playLedger = InMemoryPlayLedger()
        let sketches = InMemorySketches()
        self.playLedger = playLedger
        self.sketches = sketches
        self.plays = Plays(ledger: playLedger, sketches: sketches, group: group, logger: Logger(label: "delivery-fixture"))
        self.generations = Generations(
            configuration: generationsConfiguration, store: store, jobs: store, lookup: lookup, shares: shares, revocations: revocations,
            objects: bucket)
    }

    /// Registers a video already in the bucket (COMPLETED), as `POST /v1/generations` with `object_key` does.
    @discardableResult
    public func registerCompleted(
        _ requestID: String, owner: String = "owner-1", visibility: Generation.Visibility = .private, objectKey: String? = nil
    ) async throws -> GenerationRegistration {
        let key = objectKey ?? "videos/\(requestID).mp4"
        bucket.put(key)
        return try await generations.register(
            requestID: requestID, owner: owner, visibility: visibility, objectKey: key, cdnURL: "https://cdn.test/\(key)")
    }

    /// The lookup chain below the in-process cache, as the edge calls it on one of the loops.
    public func resolve(_ requestID: String) async throws -> LookupOutcome {
        let loop = group.next()
        return try await loop.flatSubmit { lookup.resolve(requestID, on: loop) }.get()
    }
}
