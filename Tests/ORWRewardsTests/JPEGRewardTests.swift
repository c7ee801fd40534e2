import Foundation
import ORWRewards
import TestSupport
import XCTest

/// The JPEG rewards against libjpeg-turbo's own command-line encoder, `cjpeg`
/// (Debian's libjpeg-turbo-progs, installed by scripts/install-deps).
final class JPEGRewardTests: XCTestCase {
    let side = 28

    /// Samples [N, 784] in [−1, 1]: constant grey, uniform noise, a smooth gradient, stripes.
    func images() -> [[Float]] {
        let noise = uniforms(side * side, seed: 11).map { 2 * $0 - 1 }
        let gradient = (0..<(side * side)).map { Float($0 % side + $0 / side) / Float(2 * side) - 0.5 }
        let stripes = (0..<(side * side)).map { Float(($0 % side) / 3 % 2) * 1.6 - 0.8 }
        return [[Float](repeating: 0.2, count: side * side), noise, gradient, stripes]
    }

    func score(_ reward: JPEGReward, _ samples: [[Float]]) throws -> [Float] {
        var rewards = [Float](repeating: 0, count: samples.count)
        try reward.score(samples.flatMap { $0 }, batch: samples.count, dimension: side * side, into: &rewards)
        return rewards
    }

    func testConstantImageScoresHigherThanNoise() throws {
        let reward = try JPEGReward(width: side, height: side, quality: 95)
        let rewards = try score(reward, images())
        print("jpeg rewards (−kB) constant, noise, gradient, stripes: \(rewards)")
        XCTAssertGreaterThan(rewards[0], rewards[1], "a constant image compresses better than noise")
        XCTAssertTrue(rewards.allSatisfy { $0 < 0 })
        let incompressible = try score(try JPEGReward(width: side, height: side, quality: 95, incompressibility: true), images())
        XCTAssertEqual(incompressible, rewards.map { -$0 })
        XCTAssertEqual(reward.name, "jpeg")
    }

    /// The reward is exactly −(bytes / 1000) of what `cjpeg -quality Q -grayscale` writes for the
    /// same pixels (a PGM of the bytes the documented rounding gives).
    func testSizesMatchLibjpegTurboOutputForTheSameBytes() throws {
        guard let cjpeg = findOnPath("cjpeg") else {
            return XCTFail("cjpeg not found: run scripts/install-deps (Debian package libjpeg-turbo-progs)")
        }
        let directory = NSTemporaryDirectory() + "orwdist-jpeg-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for quality in [50, 75, 95] {
            let reward = try JPEGReward(width: side, height: side, quality: quality)
            let rewards = try score(reward, images())
            for (index, image) in images().enumerated() {
                let pgm = "\(directory)/image-\(index).pgm", jpeg = "\(directory)/image-\(index)-\(quality).jpg"
                let pixels = image.map(JPEGReward.byte)
                try (Data("P5\n\(side) \(side)\n255\n".utf8) + Data(pixels)).write(to: URL(fileURLWithPath: pgm))
                let result = try runProcess(cjpeg, ["-quality", "\(quality)", "-grayscale", "-outfile", jpeg, pgm])
                XCTAssertTrue(result.succeeded, result.summary)
                let size = try FileManager.default.attributesOfItem(atPath: jpeg)[.size] as! Int
                XCTAssertEqual(try reward.compressedSize(pixels), size, "image \(index), quality \(quality)")
                XCTAssertEqual(rewards[index], -Float(size) / 1000, "image \(index), quality \(quality)")
            }
        }
    }

    func testPixelMappingAndNonFiniteSamples() throws {
        XCTAssertEqual([-1, -0.999, 0, 1, 1.5, -3].map(JPEGReward.byte), [0, 0, 128, 255, 255, 0])
        XCTAssertEqual(JPEGReward.byte(-1 + 1 / 127.5), 1)
        var sample = [Float](repeating: 0, count: side * side)
        sample[17] = .nan
        let rewards = try score(try JPEGReward(width: side, height: side, quality: 90), [sample, images()[0]])
        XCTAssertTrue(rewards[0].isNaN, "a NaN pixel makes a NaN reward, for the invalid-reward policy")
        XCTAssertTrue(rewards[1].isFinite)
        XCTAssertThrowsError(try JPEGReward(width: side, height: side, quality: 0))
        XCTAssertThrowsError(try score(try JPEGReward(width: 10, height: 10, quality: 90), [sample])) { error in
            XCTAssertTrue("\(error)".contains("784"), "\(error)")
        }
    }
}
