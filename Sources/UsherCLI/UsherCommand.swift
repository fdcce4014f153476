public import ArgumentParser

/// `usher`: one executable, a subcommand per role or task (CONTRACT § Processes and roles).
public struct UsherCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "usher",
        abstract: "Mirror fal videos into your bucket and usher viewers to them.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, ImportCommand.self, MirrorCommand.self, BackfillCommand.self, ShareCommand.self,
            RevokeCommand.self, UnrevokeCommand.self, TokenCommand.self, DeleteCommand.self, StatsCommand.self,
            PresignCommand.self,
        ]
    )

    public init() {}
}

extension UsherCommand {
    /// Parses `CommandLine.arguments` and runs the chosen subcommand (async ones included), then exits.
    public static func runMain() async {
        await main()
    }
}
