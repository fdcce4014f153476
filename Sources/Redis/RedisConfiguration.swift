import HostAddress

/// How to reach Redis, from `REDIS_URL` (`redis://[user:password@]host[:port][/db]`).
public struct RedisConfiguration: Sendable, CustomStringConvertible {
    public var host: String
    /// Default 6379.
    public var port: Int
    public var username: String?
    public var password: String?
    /// Default 0.
    public var database: Int
    /// A command without a reply within this time fails with `.timeout` and the connection is recycled.
    /// Default 50 ms: a healthy Redis on the same network answers in well under a millisecond.
    public var commandTimeout: Duration
    /// Default 1 s.
    public var connectTimeout: Duration
    /// First reconnect delay, doubling per failure up to `maximumBackoff`. Defaults 50 ms and 2 s.
    public var initialBackoff: Duration
    public var maximumBackoff: Duration
    /// Sends `READONLY` after connecting: a Redis Cluster replica then answers reads of its master's slots.
    /// Set by the cluster client on replica connections; default false.
    public var readOnly = false

    public init(url: String) throws(RedisError) {
        guard url.hasPrefix("redis://") else {
            throw RedisError(.configuration, "REDIS_URL must start with redis:// (TLS is not supported), got \(Self.redact(url))")
        }
        var rest = Substring(url.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                let user = userInfo[..<colon]
                username = user.isEmpty ? nil : Self.percentDecode(user)
                password = Self.percentDecode(userInfo[userInfo.index(after: colon)...])
            } else {
                password = Self.percentDecode(userInfo)
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let value = Int(db), value >= 0 else {
                    throw RedisError(.configuration, "REDIS_URL has an invalid database number: \(Self.redact(url))")
                }
                database = value
            }
            rest = rest[..<slash]
        }
        guard !rest.isEmpty else { throw RedisError(.configuration, "REDIS_URL has no host: \(Self.redact(url))") }
        guard let address = HostPort(rest), address.port != 0 else {
            throw RedisError(.configuration, "REDIS_URL must name host[:port] ([v6]:port for IPv6) with a port in 1…65535: \(Self.redact(url))")
        }
        self.host = address.host
        self.port = address.port ?? 6379
        self.username = username
        self.password = password
        self.database = database
        self.commandTimeout = .milliseconds(50)
        self.connectTimeout = .seconds(1)
        self.initialBackoff = .milliseconds(50)
        self.maximumBackoff = .seconds(2)
    }

    public var description: String { "redis://\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)" }

    /// The URL without its credentials, for error messages and logs.
    static func redact(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return url }
        return (url.hasPrefix("redis://") ? "redis://" : "") + "***@" + url[url.index(after: at)...]
    }

    private static func percentDecode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let c = iterator.next() {
            if c == UInt8(ascii: "%"), let h = iterator.next(), let l = iterator.next(),
                let value = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
