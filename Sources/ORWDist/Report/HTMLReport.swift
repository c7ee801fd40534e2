import Foundation

/// `orwdist report`: one self-contained HTML file (no script, no network) for one or more run
/// directories: inline SVG charts of metrics.jsonl with every run overlaid in its own colour,
/// labelled by the config fields that differ among the runs, and each run's sample pictures
/// per epoch as inline PNGs (base64 data URIs).
public struct HTMLReport {
    public let runs: [RunRecords]
    public let labels: [String]

    /// Tableau 10: distinct colours for up to ten overlaid runs (then they repeat).
    static let palette = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1",
                          "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac"]

    public init(runs: [RunRecords]) {
        self.runs = runs
        labels = RunRecords.labels(runs)
    }

    func color(_ run: Int) -> String { Self.palette[run % Self.palette.count] }

    /// (x, y) of `field` against `x` over records that have both.
    static func points(_ records: [RunRecords.Record], _ x: String, _ y: String) -> [(x: Double, y: Double)] {
        records.compactMap { record in record[x].flatMap { x in record[y].map { (x, $0) } } }
    }

    /// One series per run of `field` from its step (or epoch) records.
    func series(_ records: KeyPath<RunRecords, [RunRecords.Record]>, x: String, _ field: String,
                dashed: Bool = false, markers: Bool = false) -> [SVGChart.Series] {
        runs.indices.map { i in
            SVGChart.Series(color: color(i), points: Self.points(runs[i][keyPath: records], x, field),
                            dashed: dashed, markers: markers, label: "\(labels[i]): \(field)")
        }
    }

    /// The charts, each with the sentence shown under it.
    public var charts: [(chart: SVGChart, caption: String)] {
        var charts: [(chart: SVGChart, caption: String)] = []
        let fineTuning = runs.contains { !$0.steps.isEmpty || !$0.epochs.isEmpty }
        if fineTuning {
            var reward: [SVGChart.Series] = []
            for (i, run) in runs.enumerated() {
                let band = run.steps.compactMap { r -> (x: Double, low: Double, high: Double)? in
                    guard let step = r["step"], let mean = r["reward_mean"], let std = r["reward_std"] else { return nil }
                    return (step, mean - std, mean + std)
                }
                reward.append(SVGChart.Series(color: color(i), points: Self.points(run.steps, "step", "reward_mean"), band: band,
                                              label: "\(labels[i]): online reward mean"))
                reward.append(SVGChart.Series(color: color(i), points: Self.points(run.epochs, "step", "reward_mean"),
                                              dashed: true, markers: true, label: "\(labels[i]): evaluation reward mean"))
            }
            charts.append((SVGChart(title: "Reward: mean ± std", xLabel: "step", series: reward),
                           "Line and band: the online batch's reward mean ± one standard deviation at each logged step. "
                           + "Dots: the reward mean of the fixed evaluation samples after each epoch (step 0 is the base model)."))
            charts.append((SVGChart(title: "Flow-matching term (solid) and W2 term (dashed)", xLabel: "step",
                                    series: series(\.steps, x: "step", "flow_matching") + series(\.steps, x: "step", "w2_term", dashed: true)),
                           "Solid: (1/B) Σ ‖v_θ − u_t‖²/D, the unweighted flow-matching loss. "
                           + "Dashed: (1/B) Σ ‖v_θ − v_ref‖²/D, the W2 regulariser that α multiplies."))
            charts.append((SVGChart(title: "W2-bound estimate", xLabel: "epoch", series: series(\.epochs, x: "epoch", "w2_bound", markers: true)),
                           "Monte-Carlo ∫₀¹ E‖v_θ − v_ref‖²/D dt on the evaluation samples: the paper's bound on W2²(policy, base) "
                           + "up to e^(2L). 0 at the base; it grows as the policy moves away."))
            charts.append((SVGChart(title: "Diversity (solid) and sample std (dashed)", xLabel: "epoch",
                                    series: series(\.epochs, x: "epoch", "diversity", markers: true)
                                        + series(\.epochs, x: "epoch", "sample_std", dashed: true, markers: true)),
                           "Mean pairwise distance between evaluation samples, and their per-dimension standard deviation. "
                           + "A fall toward 0 is mode collapse (expected with α = 0)."))
            if runs.contains(where: { $0.epochs.contains { $0["fid"] != nil } }) {
                charts += featureSpaceCharts
            }
            let ends = runs.map { Self.points(Array($0.epochs.suffix(1)), "w2_bound", "reward_mean") }   // [run][0 or 1 point]
            if ends.filter({ !$0.isEmpty }).count >= 2 {
                let tradeOff = [SVGChart.Series(color: "#999999", points: ends.flatMap { $0 }, label: "the runs in the order given")]
                    + ends.indices.map { SVGChart.Series(color: color($0), points: ends[$0], markers: true, label: "\(labels[$0]): reward mean") }
                charts.append((SVGChart(title: "Final reward vs final W2-bound estimate", xLabel: "W2-bound estimate at the last epoch", series: tradeOff),
                               "One dot per run: the reward mean of its last evaluation (up) against its W2-bound estimate (right), "
                               + "joined in the order the runs were given. Over runs given in order of α this is the paper's trade-off: "
                               + "a smaller α buys reward with distance from the base."))
            }
            charts.append((SVGChart(title: "Effective sample size", xLabel: "step", series: series(\.steps, x: "step", "effective_sample_size")),
                           "(Σw)²/Σw² of the reward weights over the global batch B: B when all weights are equal, "
                           + "1 when one sample takes all the weight (τ too high)."))
            charts.append((SVGChart(title: "Throughput (samples/s)", xLabel: "step", series: series(\.steps, x: "step", "samples_per_second")),
                           "Online samples per second over the whole job: rollout, reward, loss, backward and the allreduce."))
        }
        if runs.contains(where: { !$0.pretraining.isEmpty }) {
            charts.append((SVGChart(title: "Pretraining loss", xLabel: "step", series: series(\.pretraining, x: "step", "loss")),
                           "(1/B) Σ ‖v_θ − u_t‖²/D of conditional flow matching on the data."))
        }
        return charts
    }

    /// The charts of `run.eval_classifier`'s metrics, for runs that recorded them.
    var featureSpaceCharts: [(chart: SVGChart, caption: String)] {
        [
            (SVGChart(title: "FID in classifier feature space", xLabel: "epoch",
                      series: series(\.epochs, x: "epoch", "fid", markers: true) + series(\.epochs, x: "epoch", "fid_floor", dashed: true)),
             "Solid: Fréchet distance between the penultimate features of the evaluation samples and of Fashion-MNIST's test set "
             + "(the classifier in Inception's place); lower is closer to the data. Dashed: the floor, the same distance for as many real "
             + "training images: what a perfect model would score with this number of samples."),
            (SVGChart(title: "Feature diversity", xLabel: "epoch", series: series(\.epochs, x: "epoch", "feature_diversity", markers: true)),
             "Mean pairwise distance between the evaluation samples' classifier features: diversity in what the images show "
             + "rather than in their pixels. A fall toward 0 is mode collapse."),
            (SVGChart(title: "Predicted-class entropy (bits)", xLabel: "epoch", series: series(\.epochs, x: "epoch", "class_entropy", markers: true)),
             "Entropy of the histogram of the classes the classifier predicts for the evaluation samples: log2 10 ≈ 3.32 when all "
             + "ten are equally common, 0 when every sample is one class. A reward for target classes lowers it toward log2 of their number."),
        ]
    }

    public var html: String {
        // Runs evaluated with a classifier (run.eval_classifier) get their FID in the table too.
        let withFID = runs.contains { $0.epochs.contains { $0["fid"] != nil } }
        var body = "<h1>orwdist report</h1>\n<table class=\"runs\"><tr><th></th><th>run</th><th>label</th><th>steps</th>"
            + "<th>reward (base → last epoch)</th><th>diversity</th><th>W2 bound</th>" + (withFID ? "<th>FID</th>" : "") + "</tr>\n"
        for (i, run) in runs.enumerated() {
            func span(_ field: String) -> String {
                guard let first = run.epochs.first?[field], let last = run.epochs.last?[field] else { return "–" }
                return "\(SVGChart.label(first, digits: 4)) → \(SVGChart.label(last, digits: 4))"
            }
            let steps = run.steps.last?["step"] ?? run.pretraining.last?["step"]
            body += "<tr><td><span class=\"swatch\" style=\"background:\(color(i))\"></span></td>"
                + "<td><code>\(HTML.escape(run.path))</code></td><td>\(HTML.escape(labels[i]))</td>"
                + "<td>\(steps.map { String(Int($0)) } ?? "–")</td><td>\(span("reward_mean"))</td>"
                + "<td>\(span("diversity"))</td><td>\(span("w2_bound"))</td>" + (withFID ? "<td>\(span("fid"))</td>" : "") + "</tr>\n"
        }
        body += "</table>\n<section class=\"charts\">\n"
        for (chart, caption) in charts {
            body += "<figure>\(chart.svg)<figcaption>\(HTML.escape(caption))</figcaption></figure>\n"
        }
        body += "</section>\n"
        if runs.contains(where: { !$0.pictures.isEmpty }) {
            body += "<h2>Samples per epoch</h2>\n<p class=\"note\">2-D tasks: evaluation samples (red) over the base model's "
                + "(grey) and the reward landscape (dark low, yellow high); image tasks: the first 64 evaluation samples. "
                + "The same evaluation noise every epoch.</p>\n"
            for (i, run) in runs.enumerated() where !run.pictures.isEmpty {
                body += "<h3><span class=\"swatch\" style=\"background:\(color(i))\"></span>\(HTML.escape(labels[i]))</h3>\n<div class=\"pictures\">\n"
                for picture in run.pictures {
                    body += "<figure><img alt=\"epoch \(picture.epoch)\" src=\"data:image/png;base64,\(Data(picture.png).base64EncodedString())\">"
                        + "<figcaption>epoch \(picture.epoch)</figcaption></figure>\n"
                }
                body += "</div>\n"
            }
        }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>orwdist report: \(HTML.escape(labels.joined(separator: "; ")))</title>
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
        h1 { font-size: 22px; margin: 0 0 12px; } h2 { font-size: 18px; } h3 { font-size: 15px; margin: 12px 0 6px; }
        table.runs { border-collapse: collapse; margin-bottom: 16px; }
        table.runs td, table.runs th { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }
        .swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; margin-right: 6px; vertical-align: -2px; }
        .charts { display: flex; flex-wrap: wrap; gap: 12px; }
        figure { margin: 0; }
        .charts figure { width: 560px; }
        figcaption { font-size: 12px; color: #555; }
        svg.chart { background: #fff; }
        svg .title { font-size: 14px; font-weight: 600; fill: #222; }
        svg .tick, svg .axis { font-size: 11px; fill: #555; }
        svg .grid { stroke: #eee; } svg .frame { fill: none; stroke: #999; }
        svg .series { fill: none; stroke-width: 2; } svg .band { opacity: 0.15; stroke: none; }
        .pictures { display: flex; flex-wrap: wrap; gap: 8px; }
        .pictures img { width: 200px; border: 1px solid #ccc; }
        .note { color: #555; font-size: 13px; }
        </style></head>
        <body>
        \(body)</body></html>

        """
    }
}
