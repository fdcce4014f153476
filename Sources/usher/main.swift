import ArgumentParser
import UsherCLI

// Parsed and run by hand: ArgumentParser's static `main()` picks its synchronous overload from top-level code.
do {
    var command = try UsherCommand.parseAsRoot()
    if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
    } else {
        try command.run()
    }
} catch {
    UsherCommand.exit(withError: error)
}
