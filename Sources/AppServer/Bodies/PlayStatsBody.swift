import Delivery

/// `GET /v1/generations/{id}/stats`: `{request_id, days: [{day, plays, viewers, share_plays}], total: {…}}`.
struct PlayStatsBody: Encodable {
    let stats: PlayStats

    struct Day: Encodable {
        let day: String
        let plays: Int
        let viewers: Int
        let sharePlays: Int

        enum CodingKeys: String, CodingKey {
            case day, plays, viewers
            case sharePlays = "share_plays"
        }
    }

    struct Total: Encodable {
        let plays: Int
        let viewers: Int
        let sharePlays: Int

        enum CodingKeys: String, CodingKey {
            case plays, viewers
            case sharePlays = "share_plays"
        }
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case days, total
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(stats.requestID, forKey: .requestID)
        try container.encode(
            stats.days.map { Day(day: $0.day.description, plays: $0.plays, viewers: $0.viewers, sharePlays: $0.sharePlays) }, forKey: .days)
        try container.encode(Total(plays: stats.totalPlays, viewers: stats.totalViewers, sharePlays: stats.totalSharePlays), forKey: .total)
    }
}
