public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How a spawned program ended, with everything it wrote.
public struct SpawnOutcome: Sendable {
    public let status: Int32
    public let stdout: Data
    public let stderr: Data
}

/// Runs a program to completion with posix_spawn and waitpid; standard input, output and error are files.
///
/// Not Foundation's `Process`: once a server under test has installed its signal handlers in this process,
/// `Process` can miss a child's exit. Files rather than pipes: daemons a script starts inherit its descriptors,
/// and a pipe would then never reach end-of-file.
public func spawnAndWait(_ path: String, _ arguments: [String], environment: [String: String], input: Data = Data()) throws -> SpawnOutcome {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("usher-spawn-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let inPath = directory.appendingPathComponent("stdin").path
    let outPath = directory.appendingPathComponent("stdout").path
    let errPath = directory.appendingPathComponent("stderr").path
    try input.write(to: URL(fileURLWithPath: inPath))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var cArguments = ([path] + arguments).map { strdup($0) } + [nil]
    var cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for pointer in cArguments { free(pointer) }
        for pointer in cEnvironment { free(pointer) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, &cArguments, &cEnvironment)
    guard spawned == 0 else { throw ProcessFailure(description: "cannot start \(path): errno \(spawned)") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exitCode = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return SpawnOutcome(
        status: exitCode, stdout: (try? Data(contentsOf: URL(fileURLWithPath: outPath))) ?? Data(),
        stderr: (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data())
}

/// As `spawnAndWait`, on a thread of its own, so a long child (a browser) does not hold one of the few
/// cooperative threads the server under test needs.
public func spawnAndWaitDetached(
    _ path: String, _ arguments: [String], environment: [String: String], input: Data = Data()
) async throws -> SpawnOutcome {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result { try spawnAndWait(path, arguments, environment: environment, input: input) })
        }.start()
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago, for a server whose address must be known before it
/// starts (e.g. `USHER_PUBLIC_URL` naming the edge).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ProcessFailure(description: "socket() failed: errno \(errno)") }
    defer { close(fd) }
    return try bindLoopback(fd, listening: false)
}

/// A port on 127.0.0.1 that accepts connections (the kernel completes the handshake into the backlog) and never
/// answers: a server that hangs.
public final class SilentListener: @unchecked Sendable {
    public let port: Int
    private let fd: Int32

    public init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProcessFailure(description: "socket() failed: errno \(errno)") }
        do { port = try bindLoopback(fd, listening: true) } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }
}

/// Binds `fd` to a free port on 127.0.0.1, listening if asked; returns the port.
private func bindLoopback(_ fd: Int32, listening: Bool) throws -> Int {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && (!listening || listen(fd, 16) == 0) && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else { throw ProcessFailure(description: "bind() failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A child process started with posix_spawn, for tests that must kill a server without warning (SIGKILL).
public final class SpawnedProcess: @unchecked Sendable {
    public let pid: pid_t

    public init(_ path: String, _ arguments: [String], environment: [String: String]) throws {
        let argv = [path] + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        var cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, &cArguments, &cEnvironment)
        guard result == 0 else { throw ProcessFailure(description: "cannot start \(path): errno \(result)") }
        self.pid = pid
    }

    /// SIGKILL, then reap.
    public func kill() {
        _ = Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// SIGTERM, then waits up to `seconds` for the exit; returns the exit status, or nil (after a SIGKILL) when the
    /// process did not stop in time.
    public func terminate(within seconds: Double) -> Int32? {
        _ = Glibc.kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid {
                return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            }
            usleep(50_000)
        }
        kill()
        return nil
    }
}

/// A plain TCP connection to 127.0.0.1, for tests that must send what no HTTP client would (oversized or trickled
/// heads, bodies on GET) and see exactly when the server closes.
public final class RawConnection: @unchecked Sendable {
    private let fd: Int32
    private var isOpen = true

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProcessFailure(description: "socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            close(fd)
            throw ProcessFailure(description: "connect to port \(port) failed: errno \(errno)")
        }
    }

    deinit { disconnect() }

    public func disconnect() {
        guard isOpen else { return }
        isOpen = false
        close(fd)
    }

    /// false when the peer has closed (EPIPE/ECONNRESET).
    @discardableResult
    public func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// Sends `chunk` over and over without reading anything, until `total` bytes are out or the peer has stopped
    /// taking them for `stall` seconds (its kernel buffers and ours are full); returns the bytes sent. For the
    /// client that pipelines requests and never reads the answers.
    public func sendWithoutReading(_ chunk: String, total: Int, stall seconds: Double) -> Int {
        let bytes = Array(chunk.utf8)
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        var sent = 0
        var offset = 0
        while sent < total {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
                offset = (offset + n) % bytes.count
                continue
            }
            guard n < 0, errno == EAGAIN || errno == EWOULDBLOCK else { break }
            var poll = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            if Glibc.poll(&poll, 1, Int32(seconds * 1000)) <= 0 { break }
        }
        return sent
    }

    /// Whether the peer closes or resets the connection within `seconds`, found without reading anything.
    public func peerClosed(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var poll = pollfd(fd: fd, events: Int16(0x2000), revents: 0)  // POLLRDHUP, which Glibc's module does not export
            if Glibc.poll(&poll, 1, 50) > 0 && poll.revents & (Int16(0x2000) | Int16(POLLHUP) | Int16(POLLERR)) != 0 { return true }
        }
        return false
    }

    /// Reads until the peer closes or `seconds` pass; returns what arrived and whether the peer closed.
    public func readUntilClosed(within seconds: Double) -> (data: Data, closed: Bool) {
        var received = Data()
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let remaining = max(1, Int32(deadline.timeIntervalSinceNow * 1000))
            guard Glibc.poll(&poll, 1, remaining) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return (received, true) }
            received.append(contentsOf: buffer[0..<n])
        }
        return (received, false)
    }

    /// Reads one response head and its Content-Length body (enough for the edge's answers).
    public func readResponse(within seconds: Double) -> String? {
        var received = Data()
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            let text = String(decoding: received, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let head = text[..<end.lowerBound]
                let length =
                    head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length { return text }
            }
            var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard Glibc.poll(&poll, 1, max(1, Int32(deadline.timeIntervalSinceNow * 1000))) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return received.isEmpty ? nil : String(decoding: received, as: UTF8.self) }
            received.append(contentsOf: buffer[0..<n])
        }
        return nil
    }
}
