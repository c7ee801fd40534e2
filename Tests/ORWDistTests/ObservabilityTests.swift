import Foundation
import ORWData
import TestSupport
import XCTest
@testable import ORWDist

/// What a person looks at: metrics.jsonl against the README's field table, the sample pictures
/// (decoded by an independent stdlib-Python decoder), the progress bar on a terminal, and the
/// HTML report rendered by headless Chromium.
final class ObservabilityTests: XCTestCase {
    static let scratch = scratchDirectory("observability-tests")

    @discardableResult
    func orwdist(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let result = try runOrwdist(arguments, timeout: 300)
        XCTAssertTrue(result.succeeded, result.summary, file: file, line: line)
        return result
    }

    /// A small 8-Gaussian base, pretrained once for the whole class.
    nonisolated(unsafe) static var basePath: String?
    func base() throws -> String {
        if let path = Self.basePath { return path }
        let directory = Self.scratch + "/base"
        try orwdist(["pretrain", "--run-dir", directory, "--data", "8gaussians", "--steps", "300",
                     "--set", "model.hidden=48", "--set", "model.depth=2", "--set", "model.time_embedding=16",
                     "--set", "optimizer.learning_rate=3e-3", "--set", "run.log_every=100"])
        Self.basePath = directory + "/model.safetensors"
        return Self.basePath!
    }

    /// A short fine-tuning run: 2 epochs × 4 steps, a metrics line every 2 steps.
    func shortRun(_ name: String, alpha: Double = 1, extra: [String] = []) throws -> (path: String, result: ProcessResult) {
        let run = Self.scratch + "/" + name
        let result = try orwdist(["train", "--base", try base(), "--run-dir", run, "--alpha", "\(alpha)", "--batch", "64",
                                  "--microbatch", "32", "--steps-per-epoch", "4", "--epochs", "2",
                                  "--set", "run.log_every=2", "--set", "run.eval_samples=128"] + extra)
        return (run, result)
    }

    func lines(_ run: String) throws -> [[String: Any]] {
        try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    /// The README's metrics.jsonl table: field → the kinds ("step", "epoch") whose lines carry it.
    static func documentedFields() throws -> [String: Set<String>] {
        let readme = try String(contentsOfFile: Python.repositoryFile("README.md"), encoding: .utf8)
        var fields: [String: Set<String>] = [:]
        for row in readme.split(separator: "\n") where row.hasPrefix("| `") {
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, cells[1].contains("step") || cells[1].contains("epoch") else { continue }
            let kinds = Set(cells[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            guard kinds.isSubset(of: ["step", "epoch"]) else { continue }
            fields[cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = kinds
        }
        return fields
    }

    /// `python3 scripts/checks/png_check.py FILE` (stdlib only): width, height, distinct colours.
    func pngFacts(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Int] {
        let output = try Python.run(python: "python3", file: "scripts/checks/png_check.py", [path])
        return try JSONSerialization.jsonObject(with: Data(output.utf8)) as! [String: Int]
    }

    // MARK: metrics.jsonl, progress lines, pictures

    func testMetricsFileMatchesTheREADMEAndLogLinesArePlain() throws {
        let (run, result) = try shortRun("schema")
        let documented = try Self.documentedFields()
        XCTAssertGreaterThanOrEqual(documented.count, 20, "the README's metrics table: \(documented)")
        let records = try lines(run)
        let steps = records.filter { $0["kind"] as? String == "step" }, epochs = records.filter { $0["kind"] as? String == "epoch" }
        XCTAssertEqual(steps.map { $0["step"] as? Int }, [2, 4, 6, 8])
        XCTAssertEqual(epochs.map { $0["epoch"] as? Int }, [0, 1, 2])
        XCTAssertEqual(records.count, steps.count + epochs.count, "every line is a step or an epoch")
        for (kind, group) in [("step", steps), ("epoch", epochs)] {
            let expected = Set(documented.filter { $0.value.contains(kind) }.keys)
            // Composite rewards only; run.eval_classifier only (FeatureEvaluationTests checks those).
            let optional: Set = ["reward_components", "feature_diversity", "class_entropy", "class_histogram", "fid", "fid_floor"]
            for record in group {
                XCTAssertTrue(Set(record.keys).isSubset(of: expected), "\(kind) line has fields the README's table lacks: \(Set(record.keys).subtracting(expected))")
                XCTAssertTrue(expected.subtracting(optional).isSubset(of: Set(record.keys)), "\(kind) line lacks documented fields: \(expected.subtracting(optional).subtracting(record.keys))")
                for (key, value) in record where key != "kind" {
                    let numbers = (value as? [Double]) ?? [(value as? Double) ?? .nan]
                    XCTAssertTrue(numbers.allSatisfy(\.isFinite), "\(kind) \(key) = \(value)")
                }
            }
        }
        XCTAssertEqual((epochs[0]["sample_mean"] as? [Double])?.count, 2)
        XCTAssertEqual(epochs[0]["w2_bound"] as? Double, 0, "the base is the reference")

        // Not a terminal: timestamped lines, no bar redraws.
        XCTAssertFalse(result.stdout.contains("\r"), result.stdout)
        let stepLines = result.stdout.split(separator: "\n").filter { $0.contains("] epoch 1 step ") || $0.contains("] epoch 2 step ") }
        XCTAssertEqual(stepLines.count, 4, result.stdout)
        XCTAssertTrue(stepLines.allSatisfy { $0.first?.isNumber == true }, "lines start with a timestamp: \(stepLines)")
        XCTAssertTrue(result.stdout.contains("] epoch 2: reward"), result.stdout)

        // One scatter plot per evaluation, 480 × 480, decoded by Python's zlib and struct.
        for epoch in 0...2 {
            let facts = try pngFacts(run + String(format: "/samples/epoch_%04d.png", epoch))
            XCTAssertEqual(facts["width"], 480)
            XCTAssertEqual(facts["height"], 480)
            XCTAssertGreaterThan(facts["distinct_colors"]!, 50, "a heat map and points, not a flat picture")
        }
    }

    func testQuietPrintsOnlyTheSummaryAndATerminalGetsABar() throws {
        let quiet = try shortRun("quiet", extra: ["--quiet"])
        XCTAssertFalse(quiet.result.stdout.contains("epoch"), quiet.result.stdout)
        XCTAssertTrue(quiet.result.stdout.contains("summary after 8 steps"), quiet.result.stdout)

        // util-linux's `script` gives orwdist a pseudo-terminal: the bar redraws with \r.
        let run = Self.scratch + "/terminal"
        let command = [try productPath("orwdist"), "train", "--base", try base(), "--run-dir", run, "--batch", "64",
                       "--microbatch", "32", "--steps-per-epoch", "4", "--epochs", "2", "--set", "run.eval_samples=64"]
            .map { "'\($0)'" }.joined(separator: " ")
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = "1"
        let result = try runProcess("script", ["-qec", command, "/dev/null"], environment: environment, timeout: 300)
        XCTAssertTrue(result.succeeded, result.summary)
        XCTAssertTrue(result.stdout.contains("\repoch 1/2 ▕"), result.stdout)
        XCTAssertTrue(result.stdout.contains("samples/s"), result.stdout)
        XCTAssertTrue(result.stdout.contains("4/4"), result.stdout)
        XCTAssertTrue(result.stdout.contains("] epoch 2: reward"), "one summary line per epoch: \(result.stdout)")
        XCTAssertFalse(result.stdout.contains("] epoch 1 step "), "no plain step lines on a terminal: \(result.stdout)")
    }

    // MARK: orwdist sample --grid

    func testSampleGridOfAnImageModelUsesTheRecordedShape() throws {
        // 64 "images" of shape [1, 4, 16]: D = 64, which alone would read as 8 × 8.
        let data = Self.scratch + "/images.npy"
        let values: [Float] = (0..<4096).map { (i: Int) -> Float in Float((i * 37) % 200) / 100 - 1 }
        try AtomicFile.write(NPY.encode(NPYArray(shape: [64, 1, 4, 16], values: values)), to: data)
        let directory = Self.scratch + "/image-base"
        try orwdist(["pretrain", "--run-dir", directory, "--data", "npy", "--set", "data.path=\"\(data)\"", "--steps", "5",
                     "--set", "model.hidden=16", "--set", "model.depth=1", "--set", "model.time_embedding=8"])
        let model = directory + "/model.safetensors"
        XCTAssertEqual(try ModelFile.read(from: model).metadata[SampleShape.metadataKey], "[1,4,16]")

        let grid = Self.scratch + "/images.png"
        try orwdist(["sample", "--model", model, "--n", "64", "--grid", grid])
        let facts = try pngFacts(grid)
        // 8 × 8 tiles of 16 × 4 pixels scaled ×3, 2-pixel gaps: 8·(48 + 2) + 2 by 8·(12 + 2) + 2.
        XCTAssertEqual(facts["width"], 402)
        XCTAssertEqual(facts["height"], 114)

        let scatter = Self.scratch + "/points.png"
        try orwdist(["sample", "--model", try base(), "--n", "300", "--grid", scatter])
        XCTAssertEqual(try pngFacts(scatter)["width"], 480)
    }

    func testSampleShapesAndProgressText() {
        XCTAssertEqual(SampleShape(dimension: 784), .image(channels: 1, height: 28, width: 28))
        XCTAssertEqual(SampleShape(dimension: 3 * 32 * 32), .image(channels: 3, height: 32, width: 32))
        XCTAssertEqual(SampleShape(dimension: 2), .plane)
        XCTAssertEqual(SampleShape(dimension: 1), .line)
        XCTAssertEqual(SampleShape(dimension: 5), .plane)
        XCTAssertEqual(SampleShape(recorded: "[1,28,28]", dimension: 784), .image(channels: 1, height: 28, width: 28))
        XCTAssertEqual(SampleShape(recorded: "[2]", dimension: 2), .plane)
        XCTAssertEqual(SampleShape(recorded: "[3,4]", dimension: 784), .image(channels: 1, height: 28, width: 28), "a wrong record is ignored")

        let bar = ProgressBar(title: "epoch 1/4", total: 50, log: Log(rank: 0, progress: .bar))
        let text = bar.line(done: 25, fields: [("", "10.9k samples/s"), ("reward", "-23.3")], elapsed: 5, columns: 200)
        XCTAssertEqual(text, "epoch 1/4 ▕██████████░░░░░░░░░░▏ 25/50  10.9k samples/s  reward -23.3  ETA 0:05")
        XCTAssertEqual(bar.line(done: 25, fields: [], elapsed: 5, columns: 21).count, 20, "never wider than the terminal")
        XCTAssertEqual(ProgressBar.clock(3725), "1:02:05")
        XCTAssertEqual(SVGChart.ticks(0.3, 9.2), [0, 2, 4, 6, 8, 10])
    }

    // MARK: orwdist report

    /// Runs with the feature metrics (run.eval_classifier) get their three charts; two runs or
    /// more get the trade-off chart: a dot per run in its colour at its last (w2_bound,
    /// reward_mean), joined in the order the runs were given.
    func testReportChartsTheFeatureMetricsAndTheTradeOff() throws {
        func run(_ name: String, alpha: Double, w2: [Double], reward: [Double], features: Bool) throws -> RunRecords {
            let path = Self.scratch + "/synthetic-" + name
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try "[method]\nalpha = \(alpha)\n".write(toFile: path + "/config.toml", atomically: true, encoding: .utf8)
            let lines = w2.indices.map { epoch in
                "{\"kind\": \"epoch\", \"epoch\": \(epoch), \"step\": \(10 * epoch), \"reward_mean\": \(reward[epoch]), \"w2_bound\": \(w2[epoch])"
                    + (features ? ", \"fid\": \(30 - epoch), \"fid_floor\": 4.5, \"feature_diversity\": 3.5, \"class_entropy\": 2.5, \"class_histogram\": [1, 2]" : "")
                    + "}"
            }
            try lines.joined(separator: "\n").write(toFile: path + "/metrics.jsonl", atomically: true, encoding: .utf8)
            return try RunRecords(path: path)
        }
        let greedy = try run("greedy", alpha: 0, w2: [0, 0.8, 1.6], reward: [0.1, 0.5, 0.9], features: true)
        let middle = try run("middle", alpha: 1, w2: [0, 0.2, 0.3], reward: [0.1, 0.2, 0.3], features: true)
        let plain = try run("plain", alpha: 2, w2: [0, 0.1], reward: [0.1, 0.15], features: false)
        let featureCharts = ["FID in classifier feature space", "Feature diversity", "Predicted-class entropy (bits)"]
        let tradeOff = "Final reward vs final W2-bound estimate"
        func titles(_ runs: [RunRecords]) -> Set<String> { Set(HTMLReport(runs: runs).charts.map(\.chart.title)) }

        XCTAssertTrue(titles([plain]).isDisjoint(with: featureCharts + [tradeOff]), "\(titles([plain]))")
        XCTAssertTrue(Set(featureCharts).isSubset(of: titles([greedy])) && !titles([greedy]).contains(tradeOff), "\(titles([greedy]))")
        let report = HTMLReport(runs: [greedy, middle, plain])
        XCTAssertTrue(Set(featureCharts + [tradeOff]).isSubset(of: Set(report.charts.map(\.chart.title))))

        let fid = try XCTUnwrap(report.charts.first { $0.chart.title == featureCharts[0] }?.chart)
        XCTAssertEqual(fid.series.filter { $0.dashed && !$0.points.isEmpty }.map { $0.points.map(\.y) }, [[4.5, 4.5, 4.5], [4.5, 4.5, 4.5]], "the floors, dashed")
        let chart = try XCTUnwrap(report.charts.first { $0.chart.title == tradeOff }?.chart)
        let line = chart.series[0]
        XCTAssertEqual(line.points.map(\.x), [1.6, 0.3, 0.1], "joined in the order given")
        XCTAssertEqual(line.points.map(\.y), [0.9, 0.3, 0.15])
        XCTAssertFalse(line.markers)
        let svg = chart.svg
        XCTAssertEqual(svg.components(separatedBy: "<circle class=\"point\"").count - 1, 3, "one dot per run")
        for run in 0..<3 {
            XCTAssertTrue(svg.contains("<circle class=\"point\" fill=\"\(report.color(run))\""), "run \(run)'s dot in its colour")
        }
        XCTAssertTrue(svg.contains("method.alpha = 0.0: reward mean: 0.9 at 1.6"), "each dot names its run")
    }

    // MARK: orwdist report in headless Chromium

    func testReportOfASweepRendersInChromium() throws {
        guard let chromium = findOnPath("chromium") ?? findOnPath("chromium-browser") else {
            return XCTFail("headless Chromium is needed to check the report: run `bash scripts/install-deps` (Debian package chromium)")
        }
        let runs = [try shortRun("sweep-alpha-0", alpha: 0).path, try shortRun("sweep-alpha-1", alpha: 1).path]
        let report = Self.scratch + "/report.html"
        let made = try orwdist(["report"] + runs + ["--out", report])
        XCTAssertTrue(made.stdout.contains("2 run(s), 7 charts, 6 sample pictures"), made.stdout)
        let html = try String(contentsOfFile: report, encoding: .utf8)
        XCTAssertTrue(html.contains("method.alpha = 0.0") && html.contains("method.alpha = 1.0"), "runs labelled by the field that differs")
        let external = html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
        XCTAssertFalse(external.contains("http://") || external.contains("https://") || external.contains("<script"),
                       "self-contained: no network, no script")

        // A copy with a probe: counts what every chart drew and whether every picture decoded,
        // catching errors from the start of parsing.
        let probe = """
        <script>
        window.__errors = [];
        window.addEventListener('error', e => window.__errors.push(String(e.message || (e.target && e.target.tagName))), true);
        window.addEventListener('load', () => {
          const charts = [...document.querySelectorAll('svg.chart')].map(svg => ({
            title: svg.getAttribute('aria-label'),
            points: [...svg.querySelectorAll('polyline.series')].reduce((n, p) => n + p.points.numberOfItems, 0)
                  + svg.querySelectorAll('circle.point').length }));
          const images = [...document.images].map(img => img.complete && img.naturalWidth > 0);
          const out = document.createElement('pre');
          out.id = 'probe';
          out.textContent = JSON.stringify({ charts, images, errors: window.__errors });
          document.body.appendChild(out);
        });
        </script>
        """
        let probed = Self.scratch + "/report-probe.html"
        try html.replacingOccurrences(of: "<head>", with: "<head>" + probe).write(toFile: probed, atomically: true, encoding: .utf8)
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                      "--user-data-dir=\(Self.scratch)/chromium-profile", "--enable-logging=stderr", "--v=0"]
        let dom = try runProcess(chromium, common + ["--dump-dom", "file://" + probed], timeout: 120)
        XCTAssertTrue(dom.succeeded, dom.summary)
        guard let start = dom.stdout.range(of: "<pre id=\"probe\">"), let end = dom.stdout.range(of: "</pre>", range: start.upperBound..<dom.stdout.endIndex) else {
            return XCTFail("the probe did not run: \(dom.summary)")
        }
        let json = String(dom.stdout[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
        let facts = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        let charts = facts["charts"] as! [[String: Any]]
        XCTAssertEqual(charts.count, 7, json)
        for chart in charts { XCTAssertGreaterThan(chart["points"] as! Int, 0, "chart \(chart["title"]!) drew no data") }
        XCTAssertEqual(facts["images"] as? [Bool], Array(repeating: true, count: 6), "every sample picture decodes in the browser")
        XCTAssertEqual((facts["errors"] as? [String])?.count, 0, "page errors: \(json)")

        // The report itself, as a person sees it: console clean, screenshot not blank.
        let screenshot = Self.scratch + "/report.png"
        let shot = try runProcess(chromium, common + ["--hide-scrollbars", "--screenshot=\(screenshot)", "--window-size=1200,2000",
                                                      "file://" + report], timeout: 120)
        XCTAssertTrue(shot.succeeded, shot.summary)
        let console = shot.stderr.split(separator: "\n").filter { $0.contains("CONSOLE") || $0.contains("Uncaught") }
        XCTAssertEqual(console, [], "console messages from the report")
        let image = try PNG.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: screenshot))))
        XCTAssertEqual(image.width, 1200)
        XCTAssertEqual(image.height, 2000)
        var colors = Set<Int>()
        for k in stride(from: 0, to: image.rgb.count, by: 3 * 7) {
            colors.insert(Int(image.rgb[k]) << 16 | Int(image.rgb[k + 1]) << 8 | Int(image.rgb[k + 2]))
        }
        XCTAssertGreaterThan(colors.count, 100, "the screenshot is not blank")
        print("report screenshot: \(screenshot) (\(colors.count) colours sampled)")
    }
}
