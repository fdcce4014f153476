import Delivery
import Gateway

/// The edge's request parsing (path, id, query, token places, download, client address, share codes): no crash on
/// any input, ids that pass are valid ids, and the query lookup agrees with a naive reference.
///
/// The reference splits bytes, as a server must: splitting Characters would keep `&` plus a combining mark
/// together (one grapheme), which is how the first version of this reference disagreed with the parser.
func referenceQueryValue(_ query: Substring, _ name: String) -> [UInt8]? {
    for part in Array(query.utf8).split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false) {
        let pieces = part.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
        if pieces[0].elementsEqual(name.utf8) { return pieces.count == 2 ? Array(pieces[1]) : [] }
    }
    return nil
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEdgeRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let (route, query) = EdgeRequest.parse(uri: text)
    switch route {
    case .video(let id), .share(let id):
        precondition(RequestID.isValid(id), "an invalid id was routed: \(id)")
        precondition(!id.utf8.contains(UInt8(ascii: "?")) && !id.utf8.contains(UInt8(ascii: "/")))
    default:
        break
    }
    for name: StaticString in ["token", "download", "filename"] {
        let ours = EdgeRequest.queryValue(query, name)
        let reference = referenceQueryValue(query, name.description)
        precondition(ours.map { Array($0.utf8) } == reference, "queryValue(\(name)) \(String(describing: ours)) ≠ \(String(describing: reference))")
    }
    if case .attachment(let filename?) = EdgeRequest.download(query) { precondition(!filename.isEmpty) }
    let token = EdgeRequest.token(authorization: text, query: query, cookie: text)
    if let token { precondition(!token.isEmpty, "an empty token was found") }
    _ = EdgeRequest.clientAddress(forwarded: text, peer: "127.0.0.1")
    _ = ShareLinks.isValidCode(text)
    return 0
}
