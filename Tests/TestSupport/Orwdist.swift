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
    var environment = ProcessInfo.processInfo.environment
    environment["OPENBLAS_NUM_THREADS"] = "1"
    environment.merge(extra) { $1 }
    guard ranks > 1 else { return try runProcess(binary, arguments, environment: environment, timeout: timeout) }
    return try mpirun(n: ranks, oversubscribe: ranks > 2, options: mpirunOptions, args: [binary] + arguments,
                      environment: environment, timeout: timeout)
}
