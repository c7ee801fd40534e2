import ArgumentParser
import Foundation
import Logging
import ORWDist

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
}

/// Runs `body` on every rank of the job (a singleton without mpirun).
///
/// A configuration error is the same on every rank: rank 0 prints it and every rank exits with
/// status 2. A run stopped by SIGUSR1 or SIGTERM (after rank 0's checkpoint) exits with status
/// 75 or 76 on every rank, rank 0 saying so. Any other error prints with its rank named, and in
/// a job of several ranks the failing rank aborts the whole job (exit 1), so no other rank waits
/// forever in a collective. The statuses are `ExitStatus`'s, listed in the README.
func launch(logLevel: String, _ body: (any Communicator, Log) throws -> Void) throws {
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
    let log = Log(rank: world.rank, level: level)
    do {
        try body(world, log)
    } catch let error as ConfigError {
        if world.isRoot { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
        world.finalize()
        throw ExitCode(ExitStatus.configuration)
    } catch let interrupted as TrainingInterrupted {
        if world.isRoot { FileHandle.standardError.write(Data("orwdist: \(interrupted)\n".utf8)) }
        world.finalize()
        throw ExitCode(interrupted.kind.exitStatus)
    } catch {
        let prefix = world.size > 1 ? "rank \(world.rank): " : ""
        FileHandle.standardError.write(Data("error: \(prefix)\(error)\n".utf8))
        if world.size > 1 { world.abort(code: ExitStatus.failure) }
        world.finalize()
        throw ExitCode(ExitStatus.failure)
    }
    world.finalize()
}

/// "section.key=value" for each flag that was given.
func overrides(_ pairs: [(String, CustomStringConvertible?)]) -> [String] {
    pairs.compactMap { key, value in
        guard let value else { return nil }
        if let text = value as? String { return "\(key)=\"\(text)\"" }
        return "\(key)=\(value)"
    }
}
