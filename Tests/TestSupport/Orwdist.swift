import Foundation

/// A fresh directory under the system's temporary directory, named for the test class and
/// this process, for the files one test class writes.
public func scratchDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "orwdist-\(name)-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs the built `orwdist ARGS` as users do: a plain process for one rank, under real
/// `mpirun` for several (with `--oversubscribe` past 2 ranks), one BLAS thread per rank.
/// `environment` adds to the inherited environment.
public func runOrwdist(_ arguments: [String], ranks: Int = 1, environment extra: [String: String] = [:],
                       mpirunOptions: [String] = [], timeout: Double = 600) throws -> ProcessResult {
    let binary = try productPath("orwdist")
    let environment = orwdistEnvironment(extra)
    guard ranks > 1 else { return try runProcess(binary, arguments, environment: environment, timeout: timeout) }
    return try mpirun(n: ranks, oversubscribe: ranks > 2, options: mpirunOptions, args: [binary] + arguments,
                      environment: environment, timeout: timeout)
}

/// Runs `orwdist ARGS` under `mpirun` with one rank per entry of `workingDirectories`, rank k
/// started in directory k (mpirun's MPMD form, `-wdir`), as on nodes whose working
/// directories differ; oversubscribed past 2 ranks.
public func runOrwdist(_ arguments: [String], workingDirectories: [String], environment extra: [String: String] = [:],
                       timeout: Double = 600) throws -> ProcessResult {
    let binary = try productPath("orwdist")
    let global = workingDirectories.count > 2 ? ["--oversubscribe"] : []    // an option of the whole job: in the first context
    return try mpirun(contexts: workingDirectories.enumerated().map { ($0.offset == 0 ? global : []) + ["-n", "1", "-wdir", $0.element, binary] + arguments },
                      environment: orwdistEnvironment(extra), timeout: timeout)
}

/// The inherited environment with one BLAS thread per rank, plus `extra`.
private func orwdistEnvironment(_ extra: [String: String]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment["OPENBLAS_NUM_THREADS"] = "1"
    return environment.merging(extra) { $1 }
}
