// orwdist-mpi-check — one multi-rank scenario per run, for the communicator tests.
//
//   mpirun -n 2 orwdist-mpi-check allreduce-f32
//   mpirun -n 4 --oversubscribe orwdist-mpi-check broadcast
//
// Every rank checks its own result against a closed form and prints `rank R/N SCENARIO ok`;
// on a mismatch it prints what differed to stderr and exits 1, which makes mpirun fail.
// `--inject-error` corrupts the last rank's result first, to show that the checks can fail.
import Foundation
import ORWDist

enum Scenario: String, CaseIterable {
    case allreduceF32 = "allreduce-f32"
    case allreduceF64 = "allreduce-f64"
    case allreduceMax = "allreduce-max"
    case broadcast
    case local
    case gather
    case allgather
    case abort
}

struct Mismatch: Error, CustomStringConvertible {
    let description: String
}

/// Element i of rank r's contribution to the sums: r + 1 times a small dyadic value, so every
/// partial sum is exact in Float and the result must equal the closed form bit for bit.
func contribution(_ i: Int, rank r: Int) -> Double { Double(r + 1) * Double(i % 4099) * 0.25 }
/// Σ_r contribution(i, r) over R ranks = R(R+1)/2 · (i mod 4099) / 4.
func closedFormSum(_ i: Int, size: Int) -> Double { Double(size * (size + 1) / 2) * Double(i % 4099) * 0.25 }

/// Element i of rank r's contribution to max/min: (i mod 1000) − ((i + r) mod R). Over all ranks
/// the subtracted term takes every value 0…R−1 once, so max = i mod 1000, min = that − (R − 1).
func spread(_ i: Int, rank r: Int, size: Int) -> Double { Double(i % 1000) - Double((i + r) % size) }

/// The 100 MB broadcast payload: word i of a splitmix-style sequence.
func payloadWord(_ i: Int) -> UInt64 {
    var z = UInt64(i) &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z &>> 31)
}

/// Throws on the first index where `actual` differs from `expected(i)`.
func expectEqual<T: Equatable>(_ actual: UnsafeBufferPointer<T>, _ what: String, _ expected: (Int) -> T) throws {
    for i in actual.indices where actual[i] != expected(i) {
        throw Mismatch(description: "\(what): element \(i) is \(actual[i]), expected \(expected(i))")
    }
}

func run(_ scenario: Scenario, world: MPICommunicator, injectError: Bool) throws {
    let rank = world.rank, size = world.size
    let corrupt = injectError && rank == size - 1
    switch scenario {
    case .allreduceF32:
        let count = 1 << 20
        var buffer = (0..<count).map { Float(contribution($0, rank: rank)) }
        try world.allreduceSum(&buffer)
        if corrupt { buffer[count / 2] += 1 }
        try buffer.withUnsafeBufferPointer { try expectEqual($0, "f32 sum of \(count)") { Float(closedFormSum($0, size: size)) } }

    case .allreduceF64:
        let count = 1 << 20
        // Scaled by 2^32: the + rank is below Float's precision at this size, exact in Double.
        var buffer = (0..<count).map { contribution($0, rank: rank) * 0x1p32 + Double(rank) }
        try world.allreduceSum(&buffer)
        if corrupt { buffer[count - 1] += 1 }
        let rankSum = Double(size * (size - 1) / 2)
        try buffer.withUnsafeBufferPointer {
            try expectEqual($0, "f64 sum of \(count)") { closedFormSum($0, size: size) * 0x1p32 + rankSum }
        }
        // The scalar convenience.
        let total = try world.allreduceSum(Double(rank + 1))
        guard total == Double(size * (size + 1) / 2) else {
            throw Mismatch(description: "scalar f64 sum is \(total), expected \(size * (size + 1) / 2)")
        }

    case .allreduceMax:
        let count = 100_003
        var maxF32 = (0..<count).map { Float(spread($0, rank: rank, size: size)) }
        var maxF64 = (0..<count).map { spread($0, rank: rank, size: size) }
        var minF64 = maxF64
        try maxF32.withUnsafeMutableBufferPointer { try world.allreduceMax($0) }
        try world.allreduceMax(&maxF64)
        try world.allreduceMin(&minF64)
        if corrupt { minF64[7] -= 1 }
        try maxF32.withUnsafeBufferPointer { try expectEqual($0, "f32 max") { Float($0 % 1000) } }
        try maxF64.withUnsafeBufferPointer { try expectEqual($0, "f64 max") { Double($0 % 1000) } }
        try minF64.withUnsafeBufferPointer { try expectEqual($0, "f64 min") { Double($0 % 1000 - (size - 1)) } }

    case .broadcast:
        // 100 MB from the last rank, so a non-zero root is exercised too.
        let root = size - 1
        let words = 12_500_000
        var payload = [UInt64](repeating: 0, count: words)
        if rank == root { payload.withUnsafeMutableBufferPointer { p in for i in 0..<words { p[i] = payloadWord(i) } } }
        let start = MPICommunicator.wallTime()
        try world.broadcast(&payload, root: root)
        let seconds = MPICommunicator.wallTime() - start
        if corrupt { payload[words - 1] ^= 1 }
        // A plain loop: a generic check is slow on 12.5 M words in a debug build.
        var wrong: Int? = nil
        payload.withUnsafeBufferPointer { p in for i in 0..<words where p[i] != payloadWord(i) { wrong = i; break } }
        if let i = wrong {
            throw Mismatch(description: "100 MB broadcast: word \(i) is \(payload[i]), expected \(payloadWord(i))")
        }
        // Variable length from rank 0: others learn the length first.
        let text = Array("broadcast from rank 0 of \(size)".utf8)
        let received = try world.broadcast(bytes: rank == 0 ? text : [])
        guard received == text else {
            throw Mismatch(description: "broadcast(bytes:) gave \(String(decoding: received, as: UTF8.self))")
        }
        if rank == root { print("broadcast of \(words * 8) bytes took \(String(format: "%.3f", seconds)) s") }

    case .local:
        // Compare with the launcher's own view when it gives one…
        let environment = ProcessInfo.processInfo.environment
        for (key, value) in [("OMPI_COMM_WORLD_LOCAL_RANK", world.localRank), ("OMPI_COMM_WORLD_LOCAL_SIZE", world.localSize)] {
            if let text = environment[key], Int(text) != value {
                throw Mismatch(description: "node-local value \(value) differs from \(key)=\(text)")
            }
        }
        // …and with the host names: on each host the local ranks are 0..<count of that host.
        let host = ProcessInfo.processInfo.hostName
        let reports = try world.gather(string: "\(world.localRank) \(world.localSize) \(host)")
        if world.isRoot {
            var byHost: [String: [(rank: Int, size: Int)]] = [:]
            for report in reports {
                let parts = report.split(separator: " ", maxSplits: 2).map(String.init)
                byHost[parts[2], default: []].append((Int(parts[0])!, Int(parts[1])!))
            }
            for (name, members) in byHost {
                let ranks = members.map(\.rank).sorted(), sizes = Set(members.map(\.size))
                guard ranks == Array(0..<members.count), sizes == [members.count] else {
                    throw Mismatch(description: "host \(name): local ranks \(ranks), local sizes \(sizes) for \(members.count) processes")
                }
            }
        }
        if corrupt { throw Mismatch(description: "injected error on rank \(rank)") }

    case .gather:
        // Different lengths, an empty string and multi-byte UTF-8.
        func message(_ r: Int) -> String { r == 0 ? "" : "rank \(r) says " + String(repeating: "ü€", count: 3 * r) }
        let gathered = try world.gather(string: corrupt ? message(rank) + "!" : message(rank))
        let expected = world.isRoot ? (0..<size).map(message) : []
        guard gathered == expected else {
            throw Mismatch(description: "gather gave \(gathered), expected \(expected)")
        }
        // Gather to a non-zero root: the others receive nothing.
        let toLast = try world.gather(string: String(rank), root: size - 1)
        guard toLast == (rank == size - 1 ? (0..<size).map(String.init) : []) else {
            throw Mismatch(description: "gather to root \(size - 1) gave \(toLast)")
        }

    case .allgather:
        // Rank r sends m floats that name their rank and index; every rank must receive all R
        // blocks in rank order. Once a step-sized block (256 rewards), once 100,003 floats.
        for m in [256, 100_003] {
            let mine = (0..<m).map { Float(rank * 1_000_000 + $0) }
            var all = [Float](repeating: -1, count: m * size)
            try world.allgather(mine, into: &all)
            if corrupt { all[m * size - 1] += 1 }
            try all.withUnsafeBufferPointer { try expectEqual($0, "allgather of \(m) floats") { Float($0 / m * 1_000_000 + $0 % m) } }
        }

    case .abort:
        // The last rank aborts while the others wait in a barrier it never reaches: only
        // MPI_Abort can end them. The test requires mpirun to exit non-zero promptly.
        if rank == size - 1 {
            FileHandle.standardError.write(Data("rank \(rank) aborting with code 3\n".utf8))
            world.abort(code: 3)
        }
        try world.barrier()
        throw Mismatch(description: "barrier completed although rank \(size - 1) aborted")
    }
}

// MARK: - Command line

let arguments = Array(CommandLine.arguments.dropFirst())
let injectError = arguments.contains("--inject-error")
let names = arguments.filter { $0 != "--inject-error" }
guard names.count == 1, let scenario = Scenario(rawValue: names[0]) else {
    FileHandle.standardError.write(Data("""
        usage: orwdist-mpi-check SCENARIO [--inject-error]
        scenarios: \(Scenario.allCases.map(\.rawValue).joined(separator: " "))

        """.utf8))
    exit(2)
}

do {
    let world = try MPICommunicator()
    do {
        try run(scenario, world: world, injectError: injectError)
        try world.barrier()
        print("rank \(world.rank)/\(world.size) \(scenario.rawValue) ok")
        world.finalize()
    } catch {
        FileHandle.standardError.write(Data("rank \(world.rank)/\(world.size) \(scenario.rawValue) FAILED: \(error)\n".utf8))
        exit(1)
    }
} catch {
    FileHandle.standardError.write(Data("orwdist-mpi-check: \(error)\n".utf8))
    exit(1)
}
