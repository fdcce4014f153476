internal import CHiredis

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
