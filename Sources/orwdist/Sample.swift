import ArgumentParser
import Foundation
import ORWCore
import ORWData
import ORWDist

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw samples from a model file by integrating its flow from noise.",
        discussion: """
        Writes float32 .npy of shape [N, D] (--out) and/or a picture of the samples (--grid): \
        a grid of the first 64 for image models, a scatter plot for 2-D models, a histogram for \
        1-D ones. `--noise FILE.npy` (float32 [N, D]) fixes the starting noise, so sampling can \
        be reproduced outside orwdist; otherwise sample i's noise comes from the counter-based \
        stream of (--seed, i). dopri5 integrates the samples in groups of 64, each with its own \
        step sizes, so a sample does not depend on how many are drawn with it.
        """)

    @Option(help: "A .safetensors model (pretrain's model.safetensors, train's final.safetensors, or a PyTorch MLP).") var model: String
    @Option(name: .customLong("n"), help: "Number of samples (ignored with --noise).") var count: Int = 1000
    @Option(help: "ODE solver.") var solver: SolverName = .euler
    @Option(help: "Steps of euler, heun and rk4.") var steps: Int = 20
    @Option(help: "Relative tolerance of dopri5.") var rtol: Double = 1e-5
    @Option(help: "Absolute tolerance of dopri5.") var atol: Double = 1e-5
    @Option(help: "Starting noise, float32 .npy [N, D].") var noise: String?
    @Option(help: "Seed of the noise when --noise is not given.") var seed: Int = 0
    @Option(help: "Output .npy file.") var out: String?
    @Option(help: "Output .png picture of the samples.") var grid: String?

    func validate() throws {
        if count < 1 { throw ValidationError("--n must be ≥ 1") }
        if steps < 1 { throw ValidationError("--steps must be ≥ 1") }
        if seed < 0 { throw ValidationError("--seed must be ≥ 0") }
        if out == nil && grid == nil { throw ValidationError("give --out FILE.npy, --grid FILE.png, or both") }
    }

    func run() throws {
        let file = try ModelFile.read(from: model)
        let network = file.architecture.makeModel()
        let dimension = network.dimension
        var x: [Float]     // [N, D]
        if let noise {
            let array = try NPY.read(path: noise)
            // The reader bounds the product of the non-zero sizes, so the rest's product cannot overflow.
            guard array.shape.count >= 1, array.shape[0] >= 1, array.shape.dropFirst().reduce(1, *) == dimension else {
                throw ValidationError("--noise \(noise) has shape \(array.shape); the model needs [N, \(dimension)]")
            }
            x = array.values
        } else {
            x = [Float](repeating: 0, count: count * dimension)
            for i in 0..<count {
                var stream = RandomStream(seed: UInt64(seed), purpose: .samplingNoise, sample: i)
                x.withUnsafeMutableBufferPointer { stream.fillNormal($0.baseAddress! + i * dimension, count: dimension) }
            }
        }
        let rows = x.count / dimension
        let integrator = ODEIntegrator(solver.solver(steps: steps, rtol: rtol, atol: atol))
        let started = Date()
        let statistics = try integrator.sample(model: network, parameters: file.parameters, noise: &x, batch: rows,
                                                  group: ODEIntegrator.standaloneGroup)
        let seconds = Date().timeIntervalSince(started)
        let written = [out, grid].compactMap { $0 }.joined(separator: " and ")
        if let out { try AtomicFile.write(NPY.encode(NPYArray(shape: [rows, dimension], values: x)), to: out) }
        if let grid {
            let shape = SampleShape(recorded: file.metadata[SampleShape.metadataKey], dimension: dimension)
            var picture = SamplePicture(shape: shape, dimension: dimension)
            try AtomicFile.write(picture.draw(x).png(), to: grid)
        }
        print("wrote \(rows) samples of dimension \(dimension) to \(written) in \(String(format: "%.2f", seconds)) s "
              + "(\(solver.rawValue): \(statistics.functionEvaluations) evaluations, \(statistics.acceptedSteps) steps accepted, \(statistics.rejectedSteps) rejected)")
    }

}

extension SolverName: ExpressibleByArgument {}
