import ArgumentParser
import Foundation
import Logging
import ORWDist
import ORWRewards

/// Options every config-driven subcommand shares.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "TOML configuration file (default: the built-in default).")
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override any config field, in TOML syntax; repeatable.", valueName: "section.key=value"))
    var overrides: [String] = []

    @Flag(name: .customLong("help-config"), help: "Print every config field with its default and meaning, then exit.")
    var helpConfig = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Flag(name: .long, help: "No progress bar or progress lines: only warnings, errors and the final summary.")
    var quiet = false

    /// The config from the file, `--set` and the subcommand's own flags (`flags`: the field each
    /// flag sets and its value, nil when not given), or nil after printing `--help-config`.
    func load<Config: ConfigFile>(_ type: Config.Type, flags: [(String, CustomStringConvertible?)]) throws -> Config? {
        if helpConfig {
            print(Config.documentation())
            return nil
        }
        let given = flags.compactMap { key, value -> String? in
            guard let value else { return nil }
            if let text = value as? String { return "\(key)=\"\(text)\"" }
            return "\(key)=\(value)"
        }
        return try Config.load(path: config, overrides: overrides + given)
    }
}

/// Flags every training subcommand shares, each setting one config field.
struct RunFlags: ParsableArguments {
    @Option(help: "Run directory (run.directory).") var runDir: String?
    @Option(help: "Global batch B (batch.global).") var batch: Int?
    @Option(help: "Microbatch b (batch.micro).") var microbatch: Int?
    @Option(help: "Learning rate (optimizer.learning_rate).") var lr: Double?
    @Option(help: "Seed (run.seed).") var seed: Int?

    var fields: [(String, CustomStringConvertible?)] {
        [("run.directory", runDir), ("batch.global", batch), ("batch.micro", microbatch),
         ("optimizer.learning_rate", lr), ("run.seed", seed)]
    }
}

/// Runs `body` on every rank of the job (a singleton without mpirun), with rank 0's log at
/// `options.logLevel` showing progress as a bar on a terminal, as lines otherwise, or not at all
/// with `--quiet`.
///
/// A start-up error on any rank is agreed by all (`StartupFailure`, config errors included): rank
/// 0 prints it and every rank exits with status 2. A run stopped by SIGUSR1 or SIGTERM (after
/// rank 0's checkpoint) exits with status 75 or 76 on every rank, rank 0 saying so. Any other
/// error prints with its rank named, and in a job of several ranks the failing rank aborts the
/// whole job (`MPI_Abort`: exit 2 for a config error, else 1), so no other rank waits forever in
/// a collective. The statuses are `ExitStatus`'s, listed in the README.
func launch(_ options: ConfigOptions, _ body: (any Communicator, Log) throws -> Void) throws {
    try launch(logLevel: options.logLevel, quiet: options.quiet, body)
}

/// `launch` for a subcommand without config options: the log level and quietness given.
func launch(logLevel: String, quiet: Bool = false, _ body: (any Communicator, Log) throws -> Void) throws {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardOutput(label: label)
        handler.logLevel = .trace
        return handler
    }
    guard let level = Logger.Level(rawValue: logLevel) else {
        throw ValidationError("unknown --log-level \(logLevel); use trace, debug, info, notice, warning, error or critical")
    }
    let world: MPICommunicator
    do {
        world = try MPICommunicator()
    } catch {
        FileHandle.standardError.write(Data("error: cannot start MPI: \(error)\n".utf8))
        throw ExitCode.failure
    }
    let log = Log(rank: world.rank, level: level, progress: .detect(quiet: quiet))
    do {
        // No external reward child outlives the run, whichever way it ends (before an abort too).
        defer { ScorerProcess.endAll(grace: 5) }
        try body(world, log)
    } catch let failure as StartupFailure {
        // Agreed by every rank at start-up: rank 0 prints it once, every rank leaves cleanly.
        if world.isRoot { FileHandle.standardError.write(Data("error: \(failure)\n".utf8)) }
        world.finalize()
        throw ExitCode(ExitStatus.configuration)
    } catch let interrupted as TrainingInterrupted {
        if world.isRoot { FileHandle.standardError.write(Data("orwdist: \(interrupted)\n".utf8)) }
        world.finalize()
        throw ExitCode(interrupted.kind.exitStatus)
    } catch {
        // Not agreed: the other ranks may be waiting in a collective this rank will never join,
        // so the job is aborted. A config error found by this rank alone still exits 2.
        let status = error is ConfigError ? ExitStatus.configuration : ExitStatus.failure
        let prefix = world.size > 1 ? "rank \(world.rank): " : ""
        FileHandle.standardError.write(Data("error: \(prefix)\(error)\n".utf8))
        if world.size > 1 { world.abort(code: status) }
        world.finalize()
        throw ExitCode(status)
    }
    world.finalize()
}
