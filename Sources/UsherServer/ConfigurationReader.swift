import Foundation

/// The one reader of Usher's settings: environment variables, with the CLI's flags written over them, each read by
/// one rule with a message naming the variable at fault. `usher serve`, every one-shot command and the tests build
/// their `UsherConfiguration` from one of these, once.
public struct ConfigurationReader: Sendable {
    public var values: [String: String]

    public init(_ values: [String: String]) { self.values = values }

    /// This process's environment.
    public static var process: ConfigurationReader { ConfigurationReader(ProcessInfo.processInfo.environment) }

    public subscript(name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    public func require(_ name: String) throws(ConfigurationError) -> String {
        guard let value = self[name] else { throw ConfigurationError("\(name) is not set") }
        return value
    }

    public func integer(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = self[name] else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return value
    }

    /// A duration in seconds (`2`, `0.5`) or with a unit (`250ms`, `2s`), as milliseconds.
    public func milliseconds(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = self[name] else { return defaultValue }
        let value: Double?
        if text.hasSuffix("ms") {
            value = Double(text.dropLast(2))
        } else if text.hasSuffix("s") {
            value = Double(text.dropLast()).map { $0 * 1000 }
        } else {
            value = Double(text).map { $0 * 1000 }
        }
        guard let value, value.isFinite, range.contains(Int(value)) else {
            throw ConfigurationError(
                "\(name) must be a duration such as 2, 0.5s or 250ms (within \(range.lowerBound)...\(range.upperBound) ms), got '\(text)'")
        }
        return Int(value)
    }

    public func flag(_ name: String) throws(ConfigurationError) -> Bool {
        switch self[name]?.lowercased() {
        case nil, "0", "false", "no", "off": false
        case "1", "true", "yes", "on": true
        case let other?: throw ConfigurationError("\(name) must be 0 or 1, got '\(other)'")
        }
    }
}

/// A configuration problem, phrased for the operator.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension ConfigurationReader {
    /// A point in time as Unix seconds, given as Unix seconds or as RFC 3339 (`2026-12-01T08:00:00Z`).
    public func instant(_ name: String) throws(ConfigurationError) -> Int64? {
        guard let text = self[name] else { return nil }
        if let seconds = Int64(text), seconds > 0 { return seconds }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var date = formatter.date(from: text)
        if date == nil {
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            date = formatter.date(from: text)
        }
        guard let date else { throw ConfigurationError("\(name) must be Unix seconds or an RFC 3339 time, got '\(text)'") }
        return Int64(date.timeIntervalSince1970.rounded(.down))
    }
}
