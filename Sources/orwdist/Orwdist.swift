import ArgumentParser
import ORWDist

@main
struct Orwdist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orwdist",
        abstract: "Fine-tune flow-matching models toward any black-box reward with ORW-CFM-W2, data-parallel over MPI.",
        discussion: """
        Launch on many ranks with `mpirun -n 8 orwdist train --config FILE` (as root add \
        --allow-run-as-root; more ranks than cores need --oversubscribe). Without mpirun, \
        orwdist runs as a single rank.
        """,
        version: OrwdistVersion.current,
        subcommands: [Train.self, Pretrain.self, Sample.self, Report.self, Inspect.self, Classifier.self, Bench.self, Info.self]
    )

    static func main() {
        BLASCoreSelection.restartOnBetterCoreIfNeeded()   // before MPI starts: it may exec this binary again
        Self.main(nil)
    }
}
