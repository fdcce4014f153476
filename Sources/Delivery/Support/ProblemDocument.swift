public import ViewerAuth

/// An RFC 9457 problem document as both listeners write it: `type` (`https://usher.dev/problems/{code}`), `title`,
/// `status` and `detail`, in that order, escaped by ViewerAuth's strict JSON value (the project's one JSON escaper).
/// The edge renders each of its problems once, at start; the app listener per error.
public enum ProblemDocument {
    public static let typePrefix = "https://usher.dev/problems/"

    public static func json(code: String, title: String, status: Int, detail: String) -> String {
        JSONValue.object([
            (name: "type", value: .string(typePrefix + code)), (name: "title", value: .string(title)),
            (name: "status", value: .number(Double(status))), (name: "detail", value: .string(detail)),
        ]).serialized
    }
}
