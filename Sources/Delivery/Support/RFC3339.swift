/// The shape of an RFC 3339 time as the API accepts it (`until`, `expires_at`): `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
/// The shape only: the store parses the values, and refuses an impossible date as invalid input.
public enum RFC3339 {
    public static func isValid(_ text: String) -> Bool {
        text.wholeMatch(of: /\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})/) != nil
    }
}
