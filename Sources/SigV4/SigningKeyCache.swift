import Synchronization
public import UsherCrypto

/// The SigV4 signing key, derived once per UTC day.
///
/// Deriving it costs four HMACs (about a third of a presign), and it changes only when the date in the
/// credential scope does; region and service are fixed per presigner.
final class SigningKeyCache: Sendable {
    private let secretAccessKey: String
    private let region: String
    private let service: String
    private let current: Mutex<(day: Int64, key: HMACSHA256Key)?>

    init(secretAccessKey: String, region: String, service: String) {
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
        self.current = Mutex(nil)
    }

    func key(for date: AMZDate, day: Int64) -> HMACSHA256Key {
        if let cached = current.withLock({ $0 }), cached.day == day { return cached.key }
        let key = Self.derive(secretAccessKey: secretAccessKey, date: date.date, region: region, service: service)
        current.withLock { $0 = (day, key) }
        return key
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    static func derive(secretAccessKey: String, date: String, region: String, service: String) -> HMACSHA256Key {
        let kDate = HMACSHA256Key("AWS4" + secretAccessKey).authenticationCode(for: date)
        let kRegion = HMACSHA256Key(kDate.bytes).authenticationCode(for: region)
        let kService = HMACSHA256Key(kRegion.bytes).authenticationCode(for: service)
        let kSigning = HMACSHA256Key(kService.bytes).authenticationCode(for: "aws4_request")
        return HMACSHA256Key(kSigning.bytes)
    }
}
