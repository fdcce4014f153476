import ArgumentParser
import Delivery
import Foundation
import UsherServer

/// `usher stats REQUEST_ID [--from D --to D]`: what `GET /v1/generations/{id}/stats` answers, as a table.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Print a video's plays per UTC day: plays, distinct viewers, share plays (default: the last 30 days).")

    @Argument(help: "The generation's request id.") var requestID: String
    @Option(help: "First day, YYYY-MM-DD.") var from: String?
    @Option(help: "Last day, YYYY-MM-DD (default: today, UTC).") var to: String?

    func validate() throws {
        guard RequestID.isValid(requestID) else { throw ValidationError("REQUEST_ID must be 1 to 128 of A-Za-z0-9._- (not . or ..)") }
        if let from, PlayDay(from) == nil { throw ValidationError("--from must be a date, YYYY-MM-DD, got '\(from)'") }
        if let to, PlayDay(to) == nil { throw ValidationError("--to must be a date, YYYY-MM-DD, got '\(to)'") }
    }

    func run() async throws {
        guard
            let (first, last) = Plays.range(
                from: from.flatMap { PlayDay($0) }, to: to.flatMap { PlayDay($0) }, today: PlayDay(unixSeconds: Int64(Date().timeIntervalSince1970)))
        else {
            throw ValidationError("--from must not be after --to, and the range at most \(Plays.maximumRangeDays) days")
        }
        let clients = try await CommandSetup.clients()
        do {
            guard try await clients.generations.store.find(requestID) != nil else {
                await clients.close()
                throw ValidationError("no generation \(requestID)")
            }
            let stats = try await clients.plays.stats(requestID: requestID, from: first, to: last)
            await clients.close()
            print("day         plays  viewers  share_plays")
            for day in stats.days {
                print("\(day.day)  \(pad(day.plays, 5))  \(pad(day.viewers, 7))  \(pad(day.sharePlays, 11))")
            }
            print("total       \(pad(stats.totalPlays, 5))  \(pad(stats.totalViewers, 7))  \(pad(stats.totalSharePlays, 11))")
        } catch let error as ValidationError {
            throw error
        } catch {
            await clients.close()
            throw ValidationError("cannot read the stats of \(requestID): \(error)")
        }
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
