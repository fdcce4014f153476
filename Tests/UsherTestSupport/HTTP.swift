public import Foundation

#if canImport(FoundationNetworking)
public import FoundationNetworking
#endif

public struct HTTPResult: Sendable {
    public let status: Int
    public let headers: [String: String]
    public let body: Data

    public func header(_ name: String) -> String? {
        headers.first { $0.key.lowercased() == name.lowercased() }?.value
    }
}

/// A plain HTTP client for tests that does not follow redirects, so a 302's `Location` can be checked.
public enum TestHTTP {
    final class NoRedirects: NSObject, URLSessionTaskDelegate {
        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
        ) {
            completionHandler(nil)
        }
    }

    nonisolated(unsafe) static let session = URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)

    public static func request(
        _ url: String, method: String = "GET", headers: [(String, String)] = [], body: Data? = nil
    ) async throws -> HTTPResult {
        guard let target = URL(string: url) else { throw ProcessFailure(description: "not a URL: \(url)") }
        var request = URLRequest(url: target)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields { fields["\(name)"] = "\(value)" }
        return HTTPResult(status: http.statusCode, headers: fields, body: data)
    }
}
