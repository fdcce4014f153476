import Postgres
import Redis
import Testing

/// Connection settings: bad URLs are named, and no password reaches a description (logs, errors).
@Suite struct ConfigurationTests {
    @Test func redisURLs() throws {
        let full = try RedisConfiguration(url: "redis://app:s%40cret@cache.local:6380/3")
        #expect(full.host == "cache.local")
        #expect(full.port == 6380)
        #expect(full.database == 3)
        #expect(full.username == "app")
        #expect(full.password == "s@cret")
        #expect(!full.description.contains("cret"))
        let bare = try RedisConfiguration(url: "redis://127.0.0.1")
        #expect(bare.port == 6379 && bare.database == 0 && bare.password == nil)
        for bad in ["rediss://h:6379", "redis://:pw@h:99999", "redis://h/x", "redis://", "http://h"] {
            #expect {
                try RedisConfiguration(url: bad)
            } throws: { error in
                guard let error = error as? RedisError else { return false }
                return error.code == .configuration && !error.message.contains("pw@")
            }
        }
    }

    @Test(arguments: [
        "postgres://usher:hunter2@db:5432/usher",
        "postgres://usher@db/usher?password=hunter2&sslmode=require",
        "host=db user=usher password=hunter2 dbname=usher",
        "host=db user=usher password='hunter2 x' dbname=usher",
    ])
    func postgresPasswordsAreMasked(url: String) {
        let description = PostgresConfiguration(url: url).description
        #expect(!description.contains("hunter2"), "\(description)")
        #expect(description.contains("db"))
    }
}
