import HostAddress

/// `host:port` of a listener.
public struct HostAndPort: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(_ text: String, variable: String) throws(ConfigurationError) {
        guard let address = HostPort(text), let port = address.port else {
            throw ConfigurationError("\(variable) must be host:port ([v6]:port for IPv6), got '\(text)'")
        }
        self.host = address.host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
