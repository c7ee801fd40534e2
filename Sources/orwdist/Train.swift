import ArgumentParser
import Foundation
import ORWDist

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a pretrained flow model toward a reward with ORW-CFM-W2.",
        discussion: """
        With no arguments: the built-in default, a 2-D task (an 8-Gaussian base model, pretrained \
        on first use and cached, pulled toward the mode at (5, 0)) that finishes in about a minute. \
        Under `mpirun -n R`, the global batch is split over R ranks; results do not depend on R. \
        Flags override the config file; `--set section.key=value` overrides any field \
        (`--help-config` lists them).

        Checkpoints go to RUN/checkpoints/step_XXXXXXXX every checkpoint.every steps, at the end, \
        and on SIGUSR1 (exit 75) or SIGTERM (exit 76). `--resume auto` continues from the checkpoint \
        `latest` names if it verifies, else the newest that does; it starts fresh only when the run \
        has no checkpoint, and refuses (exit 2) when none verifies, so a requeued job can always \
        pass it. One job per run directory: a second one exits 2 naming the first. Exit statuses: \
        0 done, 1 error on any rank, 2 config or input error, 75 stopped by SIGUSR1, 76 stopped by \
        SIGTERM.
        """)

    @OptionGroup var options: ConfigOptions
    @OptionGroup var common: RunFlags
    @Option(help: "Pretrained model: .safetensors path or builtin:8gaussians (base.model).") var base: String?
    @Option(help: "α, weight of the W2 regulariser (method.alpha).") var alpha: Double?
    @Option(help: "τ, inverse temperature of the weighting (method.tau).") var tau: Double?
    @Option(help: "exp, softmax or linear (method.weighting).") var weighting: String?
    @Option(help: "independent or exact-ot (method.coupling).") var coupling: String?
    @Option(help: "Steps per epoch (batch.steps_per_epoch).") var stepsPerEpoch: Int?
    @Option(help: "Epochs (batch.epochs).") var epochs: Int?
    @Option(help: "euler, heun, rk4 or dopri5 (sampler.solver).") var solver: String?
    @Option(help: "Fixed solver steps (sampler.steps).") var solverSteps: Int?
    @Option(help: "Warm-up steps (optimizer.warmup_steps).") var warmup: Int?
    @Option(help: "Gradient clipping norm, 0 for none (optimizer.clip_norm).") var clip: Double?
    @Option(help: ArgumentHelp("auto: continue from the checkpoint RUN/checkpoints/latest names, else the newest that verifies; start fresh only if the run has none; PATH: continue from that checkpoint (or run directory), which must verify.",
                               valueName: "auto|PATH"))
    var resume: String?

    func run() throws {
        guard let config = try options.load(TrainConfig.self, flags: common.fields + [
            ("base.model", base), ("method.alpha", alpha), ("method.tau", tau), ("method.weighting", weighting),
            ("method.coupling", coupling), ("batch.steps_per_epoch", stepsPerEpoch), ("batch.epochs", epochs),
            ("sampler.solver", solver), ("sampler.steps", solverSteps), ("optimizer.warmup_steps", warmup),
            ("optimizer.clip_norm", clip),
        ]) else { return }
        try launch(options) { world, log in
            let mode = resume.map(ResumeMode.init(argument:)) ?? .never
            if let summary = try TrainingRun(config: config, world: world, log: log, resume: mode).run() {
                print(summary.text)
            }
        }
    }
}
