public import Delivery
import Foundation
public import NIOCore
import Synchronization

/// The durable store as dictionaries, for tests that need no Postgres: each method keeps the rule its SQL
/// states (never check-then-insert, lease holders only, a use taken atomically), under one lock.
/// `isAvailable` false makes every call fail, as a database that is down does.
public final class InMemoryStore: GenerationStorage, MirrorTransitions, ShareStorage, RevocationStorage {
    struct State {
        var generations: [String: Generation] = [:]
        /// request id → the job and the worker holding its lease (nil: queued, not claimed).
        var jobs: [String: (job: MirrorJob, lockedBy: String?)] = [:]
        var shares: [String: Share] = [:]
        var revocations: [String: Revocation] = [:]
        /// Registration order (`created_at` with ties broken), for listing.
        var order: [String: Int] = [:]
        var sequence = 0
        /// When each DELETED row was deleted.
        var deletedAt: [String: Date] = [:]
    }

    private let state = Mutex(State())
    private let available = Atomic<Bool>(true)
    private let deliveryReads = Atomic<Int>(0)

    public init() {}

    public var isAvailable: Bool {
        get { available.load(ordering: .relaxed) }
        set { available.store(newValue, ordering: .relaxed) }
    }

    /// Read-throughs of `delivery` so far.
    public var deliveryReadCount: Int { deliveryReads.load(ordering: .relaxed) }

    public struct Unavailable: Error {}
    public struct Refused: Error { public let reason: String }

    private func locked<T>(_ body: (inout State) throws -> T) throws -> T {
        guard isAvailable else { throw Unavailable() }
        return try state.withLock { try body(&$0) }
    }

    private func onLoop<T: Sendable>(_ loop: any EventLoop, _ body: (inout State) throws -> T) -> EventLoopFuture<T> {
        do {
            return loop.makeSucceededFuture(try locked(body))
        } catch {
            return loop.makeFailedFuture(error)
        }
    }

    static func now() -> String { Date().formatted(.iso8601) }

    // MARK: GenerationStorage

    public func find(_ requestID: String) async throws -> Generation? {
        try locked { $0.generations[requestID] }
    }

    public func delivery(_ requestID: String, on loop: any EventLoop) -> EventLoopFuture<DeliveryRecord?> {
        deliveryReads.add(1, ordering: .relaxed)
        return onLoop(loop) { $0.generations[requestID]?.delivery }
    }

    public func register(
        requestID: String, owner: String?, visibility: Generation.Visibility, objectKey: String?, cdnURL: String?, expiry: Expiry
    ) async throws -> GenerationRegistration {
        let expiresAt: String?
        switch expiry {
        case .never: expiresAt = nil
        case .at(let text):
            guard let date = try? Date(text, strategy: .iso8601) else { throw Refused(reason: "expires_at is not RFC 3339: \(text)") }
            expiresAt = date.formatted(.iso8601)
        case .afterDays(let days): expiresAt = Date().addingTimeInterval(Double(days) * 86_400).formatted(.iso8601)
        }
        return try locked { state in
            let now = Self.now()
            guard var existing = state.generations[requestID] else {
                state.sequence += 1
                let generation = Generation(
                    requestID: requestID, owner: owner, visibility: visibility, status: objectKey == nil ? .pending : .completed,
                    falURL: nil, cdnURL: objectKey == nil ? nil : cdnURL, objectKey: objectKey, contentType: nil, sizeBytes: nil,
                    mirroredAt: objectKey == nil ? nil : now, attempts: 0, lastError: nil, createdAt: now, updatedAt: now, expiresAt: expiresAt)
                state.order[requestID] = state.sequence
                state.generations[requestID] = generation
                return .created(generation)
            }
            if owner != nil, objectKey == nil, existing.owner == nil {
                existing.owner = owner
                existing.visibility = visibility
                existing.updatedAt = now
                state.generations[requestID] = existing
                return .created(existing)
            }
            let same =
                existing.owner == owner && existing.visibility == visibility
                && (objectKey == nil || (existing.objectKey == objectKey && existing.status == .completed))
            return same ? .unchanged(existing) : .conflict(existing)
        }
    }

    public func list(owner: String, status: Generation.Status?, limit: Int, after cursor: GenerationCursor?) async throws -> GenerationPage {
        try locked { state in
            let position = cursor.flatMap { Int($0.createdAt) } ?? Int.max
            let rows = state.generations.values
                .filter { $0.owner == owner && (status == nil || $0.status == status) && (state.order[$0.requestID] ?? 0) < position }
                .sorted { (state.order[$0.requestID] ?? 0) > (state.order[$1.requestID] ?? 0) }
            let page = Array(rows.prefix(limit))
            // The in-memory cursor is the registration sequence number.
            let next =
                rows.count > limit
                ? page.last.map { GenerationCursor(createdAt: String(state.order[$0.requestID] ?? 0), requestID: $0.requestID) } : nil
            return GenerationPage(items: page, next: next)
        }
    }

    private static func mark(_ requestIDs: [String], in state: inout State) -> [GenerationDeletion] {
        requestIDs.compactMap { requestID in
            guard var generation = state.generations[requestID] else { return nil }
            if generation.status != .deleted {
                generation.status = .deleted
                generation.deletedAt = Self.now()
                state.deletedAt[requestID] = Date()
                state.generations[requestID] = generation
            }
            state.jobs[requestID] = nil
            var revoked: [RevokedShare] = []
            for (code, var share) in state.shares where share.requestID == requestID {
                share.revokedAt = share.revokedAt ?? Self.now()
                state.shares[code] = share
                revoked.append(RevokedShare(code: code, requestID: requestID, maxUses: share.maxUses))
            }
            // An object another live generation still serves stays; this row just stops naming it.
            if let key = generation.objectKey,
                state.generations.values.contains(where: { $0.requestID != requestID && $0.objectKey == key && $0.status != .deleted })
            {
                generation.objectKey = nil
                generation.cdnURL = nil
                state.generations[requestID] = generation
            }
            return GenerationDeletion(requestID: requestID, record: generation.delivery, objectKey: generation.objectKey, revokedShares: revoked)
        }
    }

    public func markDeleted(_ requestID: String) async throws -> GenerationDeletion? {
        try locked { Self.mark([requestID], in: &$0).first }
    }

    public func markExpiredDeleted(limit: Int) async throws -> [GenerationDeletion] {
        let now = Date()
        return try locked { state in
            let due = state.generations.values.filter {
                $0.status != .deleted && ($0.expiresAt.flatMap { try? Date($0, strategy: .iso8601) }.map { $0 <= now } ?? false)
            }
            return Self.mark(Array(due.prefix(limit).map(\.requestID)), in: &state)
        }
    }

    public func objectRemoved(_ requestID: String, objectKey: String) async throws {
        try locked { state in
            guard var generation = state.generations[requestID], generation.status == .deleted, generation.objectKey == objectKey else { return }
            generation.objectKey = nil
            generation.cdnURL = nil
            state.generations[requestID] = generation
        }
    }

    public func unfinishedDeletions(olderThanSeconds: Int, limit: Int) async throws -> [GenerationDeletion] {
        let cutoff = Date().addingTimeInterval(-Double(olderThanSeconds))
        return try locked { state in
            state.generations.values
                .filter { $0.status == .deleted && $0.objectKey != nil && (state.deletedAt[$0.requestID] ?? .distantFuture) < cutoff }
                .prefix(limit)
                .map { GenerationDeletion(requestID: $0.requestID, record: $0.delivery, objectKey: $0.objectKey, revokedShares: []) }
        }
    }

    public func purgeDeleted(olderThanDays: Int, limit: Int) async throws -> Int {
        let cutoff = Date().addingTimeInterval(-Double(olderThanDays) * 86_400)
        return try locked { state in
            let purged = state.generations.values
                .filter { $0.status == .deleted && $0.objectKey == nil && (state.deletedAt[$0.requestID] ?? .distantFuture) < cutoff }
                .prefix(limit)
                .map(\.requestID)
            for requestID in purged {
                state.generations[requestID] = nil
                state.shares = state.shares.filter { $0.value.requestID != requestID }
            }
            return purged.count
        }
    }

    /// Moves a deletion back in time, as if it had happened `seconds` ago (for the sweep's age rules).
    public func backdateDeletion(_ requestID: String, seconds: Double) throws {
        try locked { state in state.deletedAt[requestID] = state.deletedAt[requestID]?.addingTimeInterval(-seconds) }
    }

    // MARK: MirrorTransitions

    public func acceptVideo(requestID: String, sourceURL: String, contentType: String?, fileSize: Int64?) async throws -> WebhookOutcome {
        try locked { state in
            let now = Self.now()
            if var existing = state.generations[requestID] {
                guard existing.status == .pending else { return .unchanged }
                existing.status = .mirroring
                existing.falURL = sourceURL
                existing.contentType = contentType
                existing.lastError = nil
                existing.attempts = 0
                existing.updatedAt = now
                state.generations[requestID] = existing
            } else {
                state.generations[requestID] = Generation(
                    requestID: requestID, owner: nil, visibility: .private, status: .mirroring, falURL: sourceURL, cdnURL: nil,
                    objectKey: nil, contentType: contentType, sizeBytes: nil, mirroredAt: nil, attempts: 0, lastError: nil,
                    createdAt: now, updatedAt: now)
            }
            guard state.jobs[requestID] == nil else { return .unchanged }
            state.jobs[requestID] = (
                MirrorJob(requestID: requestID, sourceURL: sourceURL, contentType: contentType, fileSize: fileSize, attempts: 0), nil
            )
            return .enqueued
        }
    }

    public func rejectVideo(requestID: String, sourceURL: String?, reason: String) async throws -> WebhookOutcome {
        try locked { state in
            let now = Self.now()
            if var existing = state.generations[requestID] {
                guard existing.status == .pending else { return .unchanged }
                existing.status = .failed
                existing.falURL = sourceURL ?? existing.falURL
                existing.lastError = reason
                existing.updatedAt = now
                state.generations[requestID] = existing
            } else {
                state.generations[requestID] = Generation(
                    requestID: requestID, owner: nil, visibility: .private, status: .failed, falURL: sourceURL, cdnURL: nil,
                    objectKey: nil, contentType: nil, sizeBytes: nil, mirroredAt: nil, attempts: 0, lastError: reason,
                    createdAt: now, updatedAt: now)
            }
            return .failed
        }
    }

    /// Leases the queued job of `requestID` to `worker` (what `MirrorJobStore.claim` does with SQL).
    public func claim(requestID: String, worker: String) throws -> MirrorJob? {
        try locked { state in
            guard let entry = state.jobs[requestID], entry.lockedBy == nil else { return nil }
            let job = MirrorJob(
                requestID: requestID, sourceURL: entry.job.sourceURL, contentType: entry.job.contentType, fileSize: entry.job.fileSize,
                attempts: entry.job.attempts + 1)
            state.jobs[requestID] = (job, worker)
            return job
        }
    }

    public func complete(
        _ job: MirrorJob, worker: String, objectKey: String, cdnURL: String, contentType: String, sizeBytes: Int64
    ) async throws -> DeliveryRecord? {
        try locked { state in
            guard state.jobs[job.requestID]?.lockedBy == worker, var generation = state.generations[job.requestID] else { return nil }
            state.jobs[job.requestID] = nil
            generation.status = .completed
            generation.objectKey = objectKey
            generation.cdnURL = cdnURL
            generation.contentType = contentType
            generation.sizeBytes = sizeBytes
            generation.mirroredAt = Self.now()
            generation.attempts = job.attempts
            generation.lastError = nil
            state.generations[job.requestID] = generation
            return generation.delivery
        }
    }

    public func fail(_ job: MirrorJob, worker: String, error: String) async throws -> DeliveryRecord? {
        try locked { state in
            guard state.jobs[job.requestID]?.lockedBy == worker else { return nil }
            state.jobs[job.requestID] = nil
            guard var generation = state.generations[job.requestID], generation.status != .completed else { return nil }
            generation.status = .failed
            generation.attempts = job.attempts
            generation.lastError = error
            state.generations[job.requestID] = generation
            return generation.delivery
        }
    }

    // MARK: ShareStorage

    public func create(code: String, requestID: String, ttlSeconds: Int, maxUses: Int?) async throws -> Share? {
        try locked { state in
            guard state.generations[requestID] != nil else { return nil }
            let expires = Date().addingTimeInterval(TimeInterval(ttlSeconds)).formatted(.iso8601)
            let share = Share(code: code, requestID: requestID, expiresAt: expires, revokedAt: nil, maxUses: maxUses, uses: 0)
            state.shares[code] = share
            return share
        }
    }

    public func revoke(code: String) async throws -> Share? {
        try locked { state in
            guard var share = state.shares[code] else { return nil }
            share.revokedAt = share.revokedAt ?? Self.now()
            state.shares[code] = share
            return share
        }
    }

    public func record(_ code: String, on loop: any EventLoop) -> EventLoopFuture<(record: ShareRecord, uses: Int)?> {
        onLoop(loop) { state in
            guard let share = state.shares[code] else { return nil }
            let expires = (try? Date(share.expiresAt, strategy: .iso8601)).map { Int64($0.timeIntervalSince1970) } ?? 0
            return (ShareRecord(requestID: share.requestID, expiresAt: expires, revoked: share.revokedAt != nil, maxUses: share.maxUses), share.uses)
        }
    }

    public func consume(_ code: String, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        onLoop(loop) { state in
            guard var share = state.shares[code], share.revokedAt == nil,
                let expires = try? Date(share.expiresAt, strategy: .iso8601), expires > Date(),
                share.maxUses.map({ share.uses < $0 }) ?? true
            else { return false }
            share.uses += 1
            state.shares[code] = share
            return true
        }
    }

    // MARK: RevocationStorage

    public func add(_ kind: Revocation.Kind, value: String, until: String?) async throws -> Revocation {
        var epoch: Int64?
        if let until {
            guard let date = try? Date(until, strategy: .iso8601) else { throw Refused(reason: "until is not RFC 3339: \(until)") }
            epoch = Int64(date.timeIntervalSince1970)
        }
        return try locked { state in
            let revocation = Revocation(kind: kind, value: value, until: until, untilEpoch: epoch)
            state.revocations["\(kind.rawValue)/\(value)"] = revocation
            return revocation
        }
    }

    public func remove(_ kind: Revocation.Kind, value: String) async throws -> Bool {
        try locked { state in state.revocations.removeValue(forKey: "\(kind.rawValue)/\(value)") != nil }
    }

    public func recentDeletions(withinSeconds: Int) async throws -> [String] {
        let cutoff = Date().addingTimeInterval(-Double(withinSeconds))
        return try locked { state in state.deletedAt.filter { $0.value > cutoff }.map(\.key) }
    }

    public func active() async throws -> [Revocation] {
        let now = Int64(Date().timeIntervalSince1970)
        return try locked { state in state.revocations.values.filter { $0.untilEpoch.map { $0 > now } ?? true } }
    }
}

extension InMemoryStore.Unavailable: StorageFailure {
    public var isUnavailable: Bool { true }
    public var isInvalidInput: Bool { false }
}

extension InMemoryStore.Refused: StorageFailure {
    public var isUnavailable: Bool { false }
    public var isInvalidInput: Bool { true }
}
