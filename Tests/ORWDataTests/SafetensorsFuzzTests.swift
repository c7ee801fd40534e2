import Foundation
import TestSupport
import XCTest
@testable import ORWData

/// The safetensors reader on hostile input: a seeded mutation fuzzer over valid files (≥ 100,000
/// inputs) and hand-made headers that claim enormous tensors (or empty ones whose other sizes
/// multiply past Int). The reader must answer every input
/// with a value or a `SafetensorsError` — no trap, no hang, no allocation beyond the input's
/// size. (Checkpoints, models and optimiser states are all read through it.)
final class SafetensorsFuzzTests: XCTestCase {
    /// SplitMix64: a tiny seeded generator, so a failing input can be reproduced from its index.
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }
    }

    /// A file from a header given as text and raw data bytes.
    static func file(_ header: String, data: [UInt8]) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(headerBytes.count) >> (8 * $0)) } + headerBytes + data
    }

    /// Valid files of every supported dtype, with metadata, empty and scalar tensors.
    static func corpus() throws -> [[UInt8]] {
        let model = try Safetensors.encode(SafetensorsFile(
            tensors: [SafetensorsTensor(name: "net.0.weight", shape: [4, 3], values: (0..<12).map { Float($0) / 7 }),
                      SafetensorsTensor(name: "net.0.bias", shape: [4], values: [1, -2, 3, -4]),
                      SafetensorsTensor(name: "scalar", shape: [], values: [0.5]),
                      SafetensorsTensor(name: "empty", shape: [0, 3], values: [])],
            metadata: ["orwdist.architecture": "{\"type\":\"mlp\",\"dimension\":2,\"hidden\":4}", "orwdist.step": "12"]))
        let optimizer = try Safetensors.encode(SafetensorsFile(
            tensors: [SafetensorsTensor(name: "adam.m", shape: [6], values: [1, 2, 3, 4, 5, 6]),
                      SafetensorsTensor(name: "adam.v", shape: [6], values: [0, 0.1, 0.2, 0.3, 0.4, 0.5])],
            metadata: ["orwdist.optimizer_steps": "7"]))
        let mixed = file("""
            {"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]},\
            "c":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},"__metadata__":{"format":"pt"}}
            """, data: [0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0x40] + [UInt8](repeating: 0, count: 6) + [0xf0, 0x3f])
        for bytes in [model, optimizer, mixed] { _ = try Safetensors.decode(bytes) }   // all valid
        return [model, optimizer, mixed]
    }

    static let interestingNumbers = ["0", "1", "-1", "7", "4294967296", "9223372036854775807", "9223372036854775808",
                                     "18446744073709551615", "18446744073709551616", "1e999", "1.5", "00", "99999999999999999999999999"]
    static let interestingBytes: [UInt8] = Array("{}[]\":,-0123456789e.\\ \u{0}".utf8) + [0x80, 0xc3, 0xff]

    /// 1–4 random edits of `input`; half the time the header length is then made consistent
    /// again, so the edits reach the JSON and the entry checks rather than stopping at the length.
    static func mutate(_ input: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = input
        let headerLength = bytes.count >= 8 ? Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }) : 0
        var headerEnd = min(bytes.count, 8 + min(headerLength, bytes.count))
        for _ in 0...random.below(4) {
            guard !bytes.isEmpty else { break }
            let at = random.below(bytes.count)
            switch random.below(9) {
            case 0: bytes[at] ^= UInt8(1 << random.below(8))
            case 1: bytes[at] = UInt8(truncatingIfNeeded: random.next())
            case 2: bytes[at] = interestingBytes[random.below(interestingBytes.count)]
            case 3:
                let insert = (0..<1 + random.below(8)).map { _ in interestingBytes[random.below(interestingBytes.count)] }
                bytes.insert(contentsOf: insert, at: at)
                if at < headerEnd { headerEnd += insert.count }
            case 4:
                let end = min(bytes.count, at + 1 + random.below(16))
                bytes.removeSubrange(at..<end)
                if at < headerEnd { headerEnd = max(at, headerEnd - (end - at)) }
            case 5: bytes.removeSubrange(at...)
                headerEnd = min(headerEnd, bytes.count)
            case 6:
                // Replace a run of digits in the header by an interesting number.
                guard headerEnd > 8 else { break }
                let position = 8 + random.below(headerEnd - 8)
                guard let start = bytes[position..<headerEnd].firstIndex(where: { (48...57).contains($0) }) else { break }
                let end = bytes[start..<headerEnd].firstIndex { !(48...57).contains($0) } ?? headerEnd
                let number = Array(interestingNumbers[random.below(interestingNumbers.count)].utf8)
                bytes.replaceSubrange(start..<end, with: number)
                headerEnd += number.count - (end - start)
            case 7:
                // A random header length: tiny, huge, or off by a little.
                let length: UInt64 = switch random.below(3) {
                case 0: random.next()
                case 1: UInt64(max(0, headerLength + random.below(17) - 8))
                default: UInt64(random.below(64))
                }
                for k in 0..<min(8, bytes.count) { bytes[k] = UInt8(truncatingIfNeeded: length >> (8 * k)) }
            default:
                // Duplicate a chunk somewhere else.
                let end = min(bytes.count, at + 1 + random.below(32))
                let chunk = Array(bytes[at..<end])
                let target = random.below(bytes.count)
                bytes.insert(contentsOf: chunk, at: target)
                if target < headerEnd { headerEnd += chunk.count }
            }
        }
        if random.below(2) == 0, bytes.count >= 8, headerEnd >= 8 {
            let length = UInt64(min(headerEnd, bytes.count) - 8)
            for k in 0..<8 { bytes[k] = UInt8(truncatingIfNeeded: length >> (8 * k)) }
        }
        return bytes
    }

    static func peakResidentMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024   // Linux: kilobytes
    }

    func testMutatedFilesGiveErrorsNeverCrashesOrHugeAllocations() throws {
        let corpus = try Self.corpus()
        let inputs = 120_000
        var random = SplitMix64(state: 20_250_207)
        var accepted = 0, rejected = 0
        var reasons: [String: Int] = [:]
        let peakBefore = Self.peakResidentMegabytes()
        let started = Date()
        for _ in 0..<inputs {
            let input = Self.mutate(corpus[random.below(corpus.count)], &random)
            do {
                let file = try Safetensors.decode(input)
                // Whatever is accepted is self-consistent and no larger than the input.
                let values = file.tensors.reduce(0) { $0 + $1.values.count }
                XCTAssertLessThanOrEqual(values, input.count / 2)
                for tensor in file.tensors { XCTAssertEqual(tensor.shape.reduce(1, *), tensor.values.count) }
                accepted += 1
            } catch {
                rejected += 1
                reasons[String("\(error)".dropFirst("invalid safetensors: ".count).prefix(24)), default: 0] += 1
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let growth = Self.peakResidentMegabytes() - peakBefore
        print(String(format: "safetensors fuzz: %d inputs in %.1f s, %d accepted, %d rejected, peak RSS +%.0f MB; top errors: %@",
                     inputs, seconds, accepted, rejected, growth,
                     reasons.sorted { $0.value > $1.value }.prefix(6).map { "\($0.key)… \($0.value)" }.joined(separator: "; ")))
        XCTAssertEqual(accepted + rejected, inputs)
        XCTAssertGreaterThan(rejected, inputs / 2, "most mutations must be caught")
        XCTAssertGreaterThan(accepted, 100, "some mutations (in data bytes) stay valid")
        XCTAssertLessThan(growth, 200, "no input may make the reader allocate beyond its size")
    }

    /// Headers that claim tensors far larger than the file: errors before any allocation.
    func testHeadersClaimingHugeTensorsAreRejectedWithoutAllocating() throws {
        let peakBefore = Self.peakResidentMegabytes()
        let cases: [(String, [UInt8], (SafetensorsError) -> Bool)] = [
            (#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8),
             { if case .sizeMismatch = $0 { true } else if case .shapeTooLarge = $0 { true } else { false } }),
            (#"{"w":{"dtype":"F64","shape":[9223372036854775807,9223372036854775807],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8),
             { if case .shapeTooLarge = $0 { true } else { false } }),
            (#"{"w":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,9223372036854775800]}}"#, [UInt8](repeating: 0, count: 8),
             { if case .offsetsOutOfBounds = $0 { true } else { false } }),
            (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}"#, [UInt8](repeating: 0, count: 8),
             { if case .invalidEntry = $0 { true } else { false } }),
            // Half-precision entries: 2-byte elements, the same overflow-safe checks.
            (#"{"w":{"dtype":"F16","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8),
             { if case .shapeTooLarge = $0 { true } else { false } }),
            (#"{"w":{"dtype":"BF16","shape":[549755813888,2],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8),
             { if case .sizeMismatch = $0 { true } else { false } }),
            (#"{"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8),
             { $0 == .sizeMismatch(tensor: "w", expected: 6, actual: 8) }),
            (#"{"w":{"dtype":"F16","shape":[5],"data_offsets":[0,10]}}"#, [UInt8](repeating: 0, count: 8),
             { if case .offsetsOutOfBounds = $0 { true } else { false } }),
            (#"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8),
             { if case .invalidEntry = $0 { true } else { false } }),
            // No elements, but the other sizes multiply past Int: a reader of a row would trap.
            (#"{"w":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}"#, [],
             { if case .shapeTooLarge = $0 { true } else { false } }),
            (#"{"w":{"dtype":"F32","shape":[0,2199023255552],"data_offsets":[0,0]}}"#, [],
             { if case .shapeTooLarge = $0 { true } else { false } }),
        ]
        for (header, data, expected) in cases {
            XCTAssertThrowsError(try Safetensors.decode(Self.file(header, data: data)), header) { error in
                XCTAssertTrue(expected(error as! SafetensorsError), "\(header): \(error)")
            }
        }
        // A header length of 2^63 (or 100 MB + 1) with a short file.
        var huge = Self.file("{}", data: [])
        for k in 0..<8 { huge[k] = UInt8(truncatingIfNeeded: (UInt64(1) << 63) >> (8 * k)) }
        XCTAssertThrowsError(try Safetensors.decode(huge)) { XCTAssertEqual($0 as? SafetensorsError, .headerTooLarge(length: 1 << 63, limit: Safetensors.maximumHeaderSize)) }
        XCTAssertLessThan(Self.peakResidentMegabytes() - peakBefore, 50)
    }
}
