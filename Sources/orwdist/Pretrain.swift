import ArgumentParser
import ORWDist

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a flow model on a dataset by conditional flow matching.",
        discussion: """
        Writes RUN/model.safetensors (readable by Python's safetensors), the base for \
        `orwdist train --base`. Data-parallel under mpirun; results do not depend on the number \
        of ranks. `--help-config` lists every field.
        """)

    @OptionGroup var options: ConfigOptions
    @OptionGroup var common: RunFlags
    @Option(help: "8gaussians, moons, checkerboard, gaussian, fashion-mnist or npy (data.kind).") var data: String?
    @Option(help: "Steps (batch.steps).") var steps: Int?

    func run() throws {
        guard let config = try options.load(PretrainConfig.self, flags: common.fields + [("data.kind", data), ("batch.steps", steps)])
        else { return }
        try launch(options) { world, log in
            try PretrainingRun(config: config, world: world, log: log).run()
        }
    }
}
