import Foundation
import ORWCore
import ORWData
import TestSupport
import XCTest
@testable import ORWDist

/// The checkpoint store in process: atomic writes, the manifest, `latest`, keep-K, corruption,
/// and the trainer state's exact round trip. The end-to-end resume tests are in ResumeTests.
final class CheckpointTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "orwdist-checkpoint-tests-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    static let architecture = Architecture.mlp(MLPArchitecture(dimension: 2, hidden: 8, depth: 2, timeEmbedding: 4))

    /// A checkpoint of `step` with distinct, reproducible contents.
    func makeCheckpoint(step: Int) -> Checkpoint {
        let count = Self.architecture.makeModel().layout.count
        var config = TrainConfig()
        config.stepsPerEpoch = 4
        let trainer = TrainerState(policy: normals(count, seed: UInt64(step)), sampler: normals(count, seed: UInt64(step) + 1000),
                                   adamFirstMoment: normals(count, seed: UInt64(step) + 2000),
                                   adamSecondMoment: uniforms(count, seed: UInt64(step) + 3000),
                                   optimizerSteps: step, stepsTaken: step)
        let state = CheckpointState(stepsTaken: step, optimizerSteps: step, config: config, worldSize: 2,
                                    referenceSHA256: String(repeating: "ab", count: 32), parameterCount: count, reason: "periodic")
        return Checkpoint(state: state, architecture: Self.architecture, trainer: trainer, configText: config.tomlText())
    }

    func assertRejected(_ path: String, _ check: (CheckpointError.Reason) -> Bool, _ message: String,
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Checkpoint.read(from: path), message, file: file, line: line) { error in
            guard let error = error as? CheckpointError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue(check(error.reason), "\(message): \(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains(path), "the error names the checkpoint: \(error)", file: file, line: line)
        }
    }

    // MARK: Writing and reading

    func testRoundTripIsExactAndTheManifestCoversEveryFile() throws {
        let store = CheckpointStore(run: directory)
        let original = makeCheckpoint(step: 6)
        let path = try store.write(original, keep: 3)
        XCTAssertEqual(path, "\(directory!)/checkpoints/step_00000006")
        XCTAssertEqual(store.latest(), path)
        let read = try Checkpoint.read(from: path)
        XCTAssertEqual(read, original, "bit-exact round trip of θ, sampler, m, v and state")
        XCTAssertEqual(read.state.epoch, 2)
        XCTAssertEqual(read.state.stepInEpoch, 2)
        XCTAssertEqual(read.state.rng.step, 6)
        let files = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        XCTAssertEqual(files, (Checkpoint.files + [Manifest.fileName]).sorted())
        // coreutils agrees with the manifest.
        let check = try runProcess("sha256sum", ["-c", Manifest.fileName], currentDirectory: path, timeout: 30)
        XCTAssertTrue(check.succeeded, check.summary)
        // The policy is an ordinary model file.
        XCTAssertEqual(try ModelFile.read(from: path + "/policy.safetensors").parameters, original.trainer.policy)
    }

    func testLatestMovesAndOnlyTheNewestKAreKept() throws {
        let store = CheckpointStore(run: directory)
        for step in [2, 4, 6, 8] { try store.write(makeCheckpoint(step: step), keep: 2) }
        XCTAssertEqual(store.checkpoints().map(\.step), [8, 6])
        XCTAssertEqual(store.latest(), store.path(step: 8))
        // Rewriting a step replaces it.
        try store.write(makeCheckpoint(step: 8), keep: 2)
        XCTAssertEqual(store.checkpoints().map(\.step), [8, 6])
        XCTAssertNil(try FileManager.default.contentsOfDirectory(atPath: store.directory).first { $0.hasPrefix(".tmp-") })
    }

    /// Replacing a checkpoint of the same step is one exchange: the old one is complete until
    /// the new one is published, and a watcher never finds the name missing.
    func testReplacingACheckpointOfTheSameStepNeverLeavesItMissing() throws {
        let store = CheckpointStore(run: directory)
        let final = try store.write(makeCheckpoint(step: 8), keep: 2)
        let watch = Watch()
        let watcher = Thread {
            var status = stat()
            while watch.isRunning { if lstat(final, &status) != 0 { watch.miss() } }
        }
        watcher.start()
        for _ in 0..<100 {
            try store.write(makeCheckpoint(step: 8), keep: 2) { _ in
                XCTAssertNoThrow(try Checkpoint.read(from: final), "the old checkpoint is intact before the new one is published")
            }
        }
        watch.stop()
        while !watcher.isFinished { usleep(1000) }
        XCTAssertEqual(watch.misses, 0, "times \(final) was missing during a replacement")
        let published = try Checkpoint.read(from: final)
        var expected = makeCheckpoint(step: 8)
        expected.state.written = published.state.written   // the time it was written: seconds apart
        XCTAssertEqual(published, expected)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: store.directory).sorted(), ["latest", "step_00000008"])
    }

    /// A symbolic link planted where a temporary used to be named predictably (PATH.tmp-PID) is
    /// neither followed nor published; a link at a temporary's own name is refused.
    func testAtomicWritesDoNotFollowPlantedLinks() throws {
        let victim = directory + "/victim", target = directory + "/config.toml"
        try "victim\n".write(toFile: victim, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: "\(target).tmp-\(getpid())", withDestinationPath: victim)
        try AtomicFile.write("new\n", to: target)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "victim\n", "the link was not followed")
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: target)[.type] as? FileAttributeType, .typeRegular)
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "new\n")

        let planted = directory + "/planted"
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim)
        XCTAssertThrowsError(try AtomicFile.writeSynced(Array("x".utf8), to: planted))
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "victim\n", "the link was not followed")
    }

    // MARK: Corruption

    func testTruncatedBitFlippedManifestlessAndUncoveredCheckpointsAreRejected() throws {
        let store = CheckpointStore(run: directory)
        let written = [1, 2, 3, 4, 5].map(makeCheckpoint(step:))
        for checkpoint in written { try store.write(checkpoint, keep: 10) }

        // step 5: truncated policy.
        let policy = store.path(step: 5) + "/policy.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: policy))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: policy))
        assertRejected(store.path(step: 5), {
            if case .digestMismatch(let file, _, _, let size) = $0 { return file == "policy.safetensors" && size == bytes.count / 2 }
            return false
        }, "truncated")

        // step 4: one bit flipped in the optimiser state.
        let optimizer = store.path(step: 4) + "/optimizer.safetensors"
        var flipped = try Data(contentsOf: URL(fileURLWithPath: optimizer))
        flipped[flipped.count - 3] ^= 0x10
        try flipped.write(to: URL(fileURLWithPath: optimizer))
        assertRejected(store.path(step: 4), { if case .digestMismatch("optimizer.safetensors", _, _, _) = $0 { true } else { false } }, "bit flip")

        // step 3: no manifest.
        try FileManager.default.removeItem(atPath: store.path(step: 3) + "/" + Manifest.fileName)
        assertRejected(store.path(step: 3), { $0 == .missingManifest }, "manifest-less")

        // step 2: a file the manifest does not cover, and a manifest line that is not one.
        try Data("x".utf8).write(to: URL(fileURLWithPath: store.path(step: 2) + "/extra.bin"))
        assertRejected(store.path(step: 2), { $0 == .uncoveredFile(file: "extra.bin") }, "uncovered file")

        assertRejected(directory + "/checkpoints/step_00000099", { $0 == .notFound }, "missing")

        // --resume auto's choice: the newest that verifies, with the reasons for the others.
        let (found, skipped) = store.resumable()
        XCTAssertEqual(found?.path, store.path(step: 1))
        XCTAssertEqual(found?.checkpoint, written[0])
        XCTAssertEqual(skipped.map(\.path), [5, 4, 3, 2].map(store.path(step:)))

        // A manifest with a malformed line.
        try store.write(makeCheckpoint(step: 7), keep: 10)
        let manifest = store.path(step: 7) + "/" + Manifest.fileName
        try (String(contentsOfFile: manifest, encoding: .utf8) + "not a digest line\n").write(toFile: manifest, atomically: true, encoding: .utf8)
        assertRejected(store.path(step: 7), { if case .malformedManifest(6) = $0 { true } else { false } }, "malformed manifest")
    }

    /// An error (standing for a crash) between writing the files and publishing them leaves the
    /// previous checkpoint and `latest` intact; the next run removes the leftover.
    func testAnInterruptedWriteLeavesThePreviousCheckpointAndLatest() throws {
        struct Crash: Error {}
        let store = CheckpointStore(run: directory)
        let four = makeCheckpoint(step: 4)
        try store.write(four, keep: 3)
        XCTAssertThrowsError(try store.write(makeCheckpoint(step: 8), keep: 3) { _ in throw Crash() })
        XCTAssertEqual(store.latest(), store.path(step: 4))
        XCTAssertEqual(store.checkpoints().map(\.step), [4])
        XCTAssertEqual(try Checkpoint.read(from: store.path(step: 4)), four)
        XCTAssertEqual(store.resumable().found?.path, store.path(step: 4))
        let leftovers = store.removeTemporaries()
        XCTAssertEqual(leftovers.count, 1)
        XCTAssertTrue(leftovers[0].hasPrefix(".tmp-step_00000008"), "\(leftovers)")
    }

    func testInspectionReportsStateAndVerification() throws {
        let store = CheckpointStore(run: directory)
        try store.write(makeCheckpoint(step: 3), keep: 3)
        try store.write(makeCheckpoint(step: 6), keep: 3)
        // The checkpoints' reference hash is "abab…", which no reference file here matches.
        let missingReference = CheckpointInspection(path: store.path(step: 6))
        XCTAssertFalse(missingReference.usable)
        XCTAssertTrue(missingReference.text.contains("verified"), missingReference.text)
        XCTAssertTrue(missingReference.text.contains("MISSING"), missingReference.text)

        try FileManager.default.removeItem(atPath: store.path(step: 6) + "/state.json")
        let run = CheckpointInspection(path: directory)
        XCTAssertTrue(run.text.contains("step_00000006  FAILED"), run.text)
        XCTAssertTrue(run.text.contains("would continue from step_00000003"), run.text)
        XCTAssertTrue(run.text.contains("step        3 (epoch 1, step 3 of the epoch)"), run.text)
        XCTAssertTrue(run.text.contains("written by  2 rank(s)"), run.text)
    }

    // MARK: Config

    func testResumeHashIgnoresOnlyTheFreeFields() throws {
        let base = TrainConfig()
        var free = base
        free.runDirectory = "elsewhere"
        free.logEvery = 3
        free.checkpointEvery = 7
        free.checkpointKeep = 9
        free.hashCheckEvery = 0
        free.evaluationSamples = 64
        XCTAssertEqual(free.resumeHash, base.resumeHash)
        var changed = base
        changed.alpha = 0.25
        XCTAssertNotEqual(changed.resumeHash, base.resumeHash)
        XCTAssertEqual(changed.resumeDifferences(from: base), ["method.alpha = 0.25 (checkpoint: 1.0)"])
    }

    // MARK: Exactness in process

    /// Stopping mid-epoch, exporting the state and continuing in a new trainer gives the
    /// parameters of the uninterrupted run bit for bit.
    func testTrainerStateRoundTripContinuesBitForBit() throws {
        var config = TrainConfig()
        config.globalBatch = 32
        config.microbatch = 16
        config.stepsPerEpoch = 4
        config.epochs = 2
        config.solverSteps = 4
        config.alpha = 0.5
        let model = Self.architecture.makeModel()
        var reference = [Float](repeating: 0, count: model.layout.count)
        reference.withUnsafeMutableBufferPointer { model.initialize($0.baseAddress!, seed: 3) }
        let log = Log(rank: 0, level: .error)
        func trainer() throws -> ORWTrainer {
            ORWTrainer(config: config, world: LocalCommunicator(), model: Self.architecture.makeModel(), reference: reference,
                       reward: try config.reward.makeReward(dimension: 2, rank: 0, worldSize: 1), log: log)
        }
        let whole = try trainer()
        for epoch in 1...2 {
            whole.beginEpoch()
            for _ in 0..<4 { _ = try whole.step(epoch: epoch) }
        }
        let first = try trainer()
        first.beginEpoch()
        for _ in 0..<4 { _ = try first.step(epoch: 1) }
        first.beginEpoch()
        _ = try first.step(epoch: 2)
        let saved = first.exportState()
        // Through the bytes of a checkpoint, as a resumed run sees it.
        let store = CheckpointStore(run: directory)
        let state = CheckpointState(stepsTaken: saved.stepsTaken, optimizerSteps: saved.optimizerSteps, config: config, worldSize: 1,
                                    referenceSHA256: "", parameterCount: saved.policy.count, reason: "periodic")
        let path = try store.write(Checkpoint(state: state, architecture: Self.architecture, trainer: saved, configText: config.tomlText()), keep: 1)
        let second = try trainer()
        second.importState(try Checkpoint.read(from: path).trainer)
        for _ in 0..<3 { _ = try second.step(epoch: 2) }
        XCTAssertEqual(second.stepsTaken, 8)
        XCTAssertEqual(second.policy.map(\.bitPattern), whole.policy.map(\.bitPattern), "bitwise equal parameters")
        XCTAssertNotEqual(second.policy, reference)
    }

    // MARK: Untrusted model files

    /// Metadata claiming an enormous or impossible architecture is an error, never a trap or an
    /// allocation of the claimed size.
    func testImplausibleArchitecturesAreErrors() throws {
        let count = Self.architecture.makeModel().layout.count
        let valid = try Safetensors.decode(ModelFile(architecture: Self.architecture, parameters: normals(count, seed: 1)).encode())
        let json = valid.metadata[ModelFile.architectureKey]!
        XCTAssertTrue(json.contains("\"hidden\":8"), json)
        for bad in ["\"hidden\":1000000000", "\"hidden\":0", "\"hidden\":4611686018427387904", "\"depth\":100000000",
                    "\"time_embedding\":3", "\"dimension\":-1"] {
            var file = valid
            let key = bad.prefix { $0 != ":" }
            let original = json.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "{}")) }
                .first { $0.hasPrefix(key) }!
            file.metadata[ModelFile.architectureKey] = json.replacingOccurrences(of: original, with: bad)
            XCTAssertThrowsError(try ModelFile.decode(Safetensors.encode(file)), bad) { error in
                XCTAssertTrue("\(error)".contains("architecture"), "\(error)")
            }
        }
    }
}

/// The watcher thread's stop flag and its count of times it found a checkpoint missing.
private final class Watch: @unchecked Sendable {
    private let lock = NSLock()
    private var running = true
    private var missed = 0

    var isRunning: Bool { lock.withLock { running } }
    var misses: Int { lock.withLock { missed } }
    func stop() { lock.withLock { running = false } }
    func miss() { lock.withLock { missed += 1 } }
}
