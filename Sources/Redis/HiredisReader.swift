internal import CHiredis

/// Owns a hiredis `redisReader`: feed it bytes as they arrive, take out complete replies.
///
/// Confined to one event loop (the connection's), so not Sendable.
final class HiredisReader {
    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        reader = redisReaderCreate()
    }

    deinit { redisReaderFree(reader) }

    func feed(_ bytes: UnsafeRawBufferPointer) throws(RedisError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        guard redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count) == REDIS_OK else {
            throw RedisError(.protocolError, "hiredis refused the input")
        }
    }

    /// The next complete reply, or nil when more bytes are needed.
    func nextReply() throws(RedisError) -> RESPValue? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
            throw RedisError(.protocolError, withUnsafeBytes(of: reader.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RESPValue {
        let r = reply.pointee
        func bytes() -> [UInt8] {
            guard let str = r.str, r.len > 0 else { return [] }
            return [UInt8](UnsafeRawBufferPointer(start: str, count: r.len))
        }
        switch Int32(r.type) {
        case REDIS_REPLY_STRING: return .bulk(bytes())
        case REDIS_REPLY_STATUS: return .simpleString(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(Int64(r.integer))
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            elements.reserveCapacity(r.elements)
            for i in 0..<r.elements { elements.append(convert(r.element[i]!)) }
            return .array(elements)
        default: return .null
        }
    }
}

/// Formats commands with hiredis's `redisFormatCommandArgv` (binary-safe: every argument carries its length).
enum HiredisFormatter {
    static func format(_ arguments: [[UInt8]], into write: (UnsafeRawBufferPointer) -> Void) {
        var target: UnsafeMutablePointer<CChar>?
        let count = arguments.count
        withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count) { pointers in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { lengths in
                // Pin every argument's storage for the duration of the call.
                func pin(_ i: Int) {
                    if i == count {
                        let length = redisFormatCommandArgv(&target, Int32(count), pointers.baseAddress, lengths.baseAddress)
                        if length > 0, let target {
                            write(UnsafeRawBufferPointer(start: target, count: Int(length)))
                        }
                        return
                    }
                    arguments[i].withUnsafeBufferPointer { buffer in
                        // An empty argument still needs a valid pointer.
                        let empty: StaticString = ""
                        pointers[i] =
                            buffer.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
                            ?? UnsafeRawPointer(empty.utf8Start).assumingMemoryBound(to: CChar.self)
                        lengths[i] = buffer.count
                        pin(i + 1)
                    }
                }
                pin(0)
            }
        }
        if let target { redisFreeCommand(target) }
    }
}
