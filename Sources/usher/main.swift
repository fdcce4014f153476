import UsherCLI

await UsherCommand.runMain()
