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
            extra.append((
                "options", "options=-c%20statement_timeout%3D\(statementTimeoutMilliseconds)%20-c%20client_min_messages%3Dwarning",
                "options='-c statement_timeout=\(statementTimeoutMilliseconds) -c client_min_messages=warning'"
            ))
        }
        if !url.contains("application_name") { extra.append(("application_name", "application_name=usher", "application_name=usher")) }
        guard !extra.isEmpty else { return url }
        if isURL { return url + (url.contains("?") ? "&" : "?") + extra.map(\.url).joined(separator: "&") }
        return url + " " + extra.map(\.keyword).joined(separator: " ")
    }

    /// Without the password, for logs and errors.
    public var description: String {
        guard let schemeEnd = url.firstRange(of: "://"), let at = url.lastIndex(of: "@") else { return url }
        let userInfo = url[schemeEnd.upperBound..<at]
        let user = userInfo.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        return String(url[..<schemeEnd.upperBound]) + user + (userInfo.contains(":") ? ":***" : "") + String(url[at...])
    }
}
