import ArgumentParser
import Foundation
import ORWDist

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render run directories into one self-contained HTML report.",
        discussion: """
        Charts (inline SVG) of reward mean ± std, the flow-matching and W2 terms, the W2-bound \
        estimate, diversity, effective sample size and throughput, from each RUN/metrics.jsonl; \
        several runs overlay, labelled by the config fields that differ among them (an α or τ \
        sweep). Then each run's sample pictures per epoch (RUN/samples/epoch_NNNN.png), inlined. \
        The file needs no network and no script: open it in any browser.
        """)

    @Argument(help: "Run directories of orwdist train (or pretrain).") var runs: [String]
    @Option(help: "Output HTML file.") var out: String = "report.html"

    func validate() throws {
        if runs.isEmpty { throw ValidationError("give at least one run directory") }
    }

    func run() throws {
        let records: [RunRecords]
        do {
            records = try runs.map { try RunRecords(path: $0) }
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let report = HTMLReport(runs: records)
        try AtomicFile.write(report.html, to: out)
        let pictures = records.map(\.pictures.count).reduce(0, +)
        print("wrote \(out): \(records.count) run(s), \(report.charts.count) charts, \(pictures) sample pictures")
    }
}
