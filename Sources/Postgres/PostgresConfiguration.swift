/// How to reach PostgreSQL, from `DATABASE_URL`.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// A libpq connection string or URL (`postgres://usher@127.0.0.1:5432/usher`), multi-host URLs included.
    public var url: String
    /// Connections, and threads running their blocking calls. Default 4.
    public var poolSize: Int
    /// Default 2 s, so a down database is reported quickly rather than hanging requests.
    public var connectTimeoutSeconds: Int
    /// Default 5 s: no statement holds a connection longer.
    public var statementTimeoutMilliseconds: Int

    public init(url: String, poolSize: Int = 4, connectTimeoutSeconds: Int = 2, statementTimeoutMilliseconds: Int = 5000) {
        self.url = url
        self.poolSize = poolSize
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
    }

    /// The URL with timeouts and an application name added unless it sets them.
    var conninfo: String {
        let isURL = url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")
        var extra: [(key: String, url: String, keyword: String)] = []
        if !url.contains("connect_timeout") {
            extra.append(("connect_timeout", "connect_timeout=\(connectTimeoutSeconds)", "connect_timeout=\(connectTimeoutSeconds)"))
        }
        if !url.contains("options") {
            extra.append(
                (
                    "options", "options=-c%20statement_timeout%3D\(statementTimeoutMilliseconds)%20-c%20client_min_messages%3Dwarning",
                    "options='-c statement_timeout=\(statementTimeoutMilliseconds) -c client_min_messages=warning'"
                ))
        }
        if !url.contains("application_name") { extra.append(("application_name", "application_name=usher", "application_name=usher")) }
        // A partitioned network must not hold a pool thread (and every edge cache miss behind it) for minutes.
        if !url.contains("keepalives") {
            extra.append(
                (
                    "keepalives", "keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3",
                    "keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3"
                ))
        }
        if !url.contains("tcp_user_timeout") { extra.append(("tcp_user_timeout", "tcp_user_timeout=10000", "tcp_user_timeout=10000")) }
        guard !extra.isEmpty else { return url }
        if isURL { return url + (url.contains("?") ? "&" : "?") + extra.map(\.url).joined(separator: "&") }
        return url + " " + extra.map(\.keyword).joined(separator: " ")
    }

    /// Without the password, for logs and errors: `user:***@` in URLs, `password=***` in URL queries and in
    /// keyword connection strings.
    public var description: String {
        var text = url
        if let schemeEnd = text.firstRange(of: "://"), let at = text.lastIndex(of: "@"), at > schemeEnd.upperBound {
            let userInfo = text[schemeEnd.upperBound..<at]
            if let colon = userInfo.firstIndex(of: ":") { text.replaceSubrange(text.index(after: colon)..<at, with: "***") }
        }
        var out = ""
        var rest = Substring(text)
        while let found = rest.firstRange(of: "password=") {
            out += rest[..<found.upperBound] + "***"
            rest = rest[found.upperBound...]
            if rest.hasPrefix("'") {
                rest = rest.dropFirst()
                rest = rest.drop { $0 != "'" }.dropFirst()
            } else {
                rest = rest.drop { $0 != "&" && $0 != " " }
            }
        }
        return out + rest
    }
}
