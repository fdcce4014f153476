public import SigV4

extension S3Configuration {
    /// `S3_ENDPOINT`, `S3_REGION` [auto], `S3_BUCKET`, `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY`,
    /// `S3_SESSION_TOKEN`, `S3_ADDRESSING` [path].
    public init(environment: ConfigurationReader) throws(ConfigurationError) {
        do {
            let endpoint = try environment["S3_ENDPOINT"].map { (text) throws(SigV4Error) -> S3Endpoint in try S3Endpoint(text) }
            let addressingText = environment["S3_ADDRESSING"] ?? "path"
            guard let addressing = Addressing(rawValue: addressingText) else {
                throw ConfigurationError("S3_ADDRESSING must be path or virtual, got '\(addressingText)'")
            }
            try self.init(
                endpoint: endpoint,
                region: environment["S3_REGION"] ?? "auto",
                bucket: environment.require("S3_BUCKET"),
                credentials: S3Credentials(
                    accessKeyID: environment.require("S3_ACCESS_KEY_ID"),
                    secretAccessKey: environment.require("S3_SECRET_ACCESS_KEY"),
                    sessionToken: environment["S3_SESSION_TOKEN"]),
                addressing: addressing)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError("\(error)")
        }
    }
}
