import ArgumentParser
import ORWDist

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a checkpoint holds and whether it verifies.",
        discussion: """
        PATH is a checkpoint (RUN/checkpoints/step_XXXXXXXX) or a run directory. For a checkpoint: \
        its step, epoch, RNG counters, world size and microbatch layout, optimiser state, model, \
        config and reference hashes, and whether every file matches manifest.sha256 and the run's \
        reference.safetensors matches its hash. For a run: every checkpoint's status, the one \
        `orwdist train --resume auto` would take, and its details. Exit status 0 when that \
        checkpoint verifies, 1 otherwise.
        """)

    @Argument(help: "A checkpoint directory or a run directory.") var path: String

    func run() throws {
        let inspection = CheckpointInspection(path: path)
        print(inspection.text)
        if !inspection.usable { throw ExitCode(ExitStatus.failure) }
    }
}
