public import Delivery
import Foundation
import Gateway
public import Logging
public import ServiceLifecycle
import UnixSignals
public import ViewerAuth

/// Re-reads the viewer-token key file on SIGHUP. A file that cannot be read or parsed is reported and the keys
/// in use are kept (CONTRACT § Viewer tokens).
///
/// Runs even without a key file (`path` nil), so that a SIGHUP sent out of habit (logrotate, `systemctl reload`)
/// is logged rather than ending the process, which is what an untrapped SIGHUP does.
public struct KeyReloader: Service {
    let path: String?
    let keys: ViewerKeys
    let audience: String
    let logger: Logger

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            guard let path else {
                logger.notice("SIGHUP: no USHER_TOKEN_KEYS file to reload")
                continue
            }
            do {
                let keySet = try loadViewerKeySet(path: path)
                keys.replace(with: ViewerTokenVerifier(keySet: keySet, audience: audience))
                logger.info("viewer keys reloaded", metadata: ["path": "\(path)", "keys": "\(keySet.keys.count)"])
            } catch {
                logger.error("viewer key file refused; keeping the keys in use", metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
    }
}

/// Reads and parses a JWKS file, naming the file in any error.
public func loadViewerKeySet(path: String) throws -> ViewerKeySet {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ConfigurationError("cannot read key file \(path)")
    }
    do {
        return try ViewerKeySet(jwks: [UInt8](data))
    } catch {
        throw ConfigurationError("\(path): \(error)")
    }
}
