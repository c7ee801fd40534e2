import Foundation
import TestSupport
import XCTest

/// The design the code cites is the repository's own DESIGN.md, and every citation lands:
/// a quoted section title or a `#anchor` names one of its headings, "step N" one of the
/// method's numbered steps.
final class DesignDocumentTests: XCTestCase {
    /// Files that cite DESIGN.md: every Swift source, and the Markdown documents at the top.
    private func citingFiles() throws -> [String] {
        let root = Python.repositoryRoot.path
        var files = ["README.md", "cluster/README.md", "EXPERIMENTS.md", "BENCHMARKS.md"]
            .filter { FileManager.default.fileExists(atPath: "\(root)/\($0)") }
        let sources = FileManager.default.enumerator(atPath: "\(root)/Sources")!
        while let path = sources.nextObject() as? String {
            if path.hasSuffix(".swift") { files.append("Sources/\(path)") }
        }
        return files
    }

    /// The text with comment markers and line breaks folded into single spaces, so a citation
    /// broken over two `///` lines reads as one.
    private func folded(_ text: String) -> String {
        text.replacingOccurrences(of: #"\s*\n\s*(///?)?\s*"#, with: " ", options: .regularExpression)
    }

    /// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
    private func anchor(_ heading: String) -> String {
        String(heading.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == " " || $0 == "-" }
            .map(Character.init)).replacingOccurrences(of: " ", with: "-")
    }

    func testEveryCitationOfDesignMdNamesSomethingInTheRepositorysOwnDesignDocument() throws {
        let designPath = Python.repositoryFile("DESIGN.md")
        let design = try XCTUnwrap(try? String(contentsOfFile: designPath, encoding: .utf8),
                                   "the code cites DESIGN.md, which must be at the repository root")
        let headings = design.split(separator: "\n").filter { $0.hasPrefix("#") }
            .map { $0.drop(while: { $0 == "#" }).trimmingCharacters(in: .whitespaces) }
        let anchors = Set(headings.map(anchor))
        let steps = Set(design.split(separator: "\n").compactMap { line -> Int? in
            guard let match = line.firstMatch(of: /^(\d+)\. \*\*/) else { return nil }
            return Int(match.1)
        })
        XCTAssertEqual(steps, Set(1...6), "the method's six numbered steps, which the code cites by number")

        var citations = 0
        for file in try citingFiles() {
            let text = folded(try String(contentsOfFile: Python.repositoryFile(file), encoding: .utf8))
            XCTAssertFalse(text.contains("shared notes"), "\(file) still sends readers to notes outside the repository")
            for match in text.matches(of: /DESIGN\.md, "([^"]+)"/) {
                citations += 1
                XCTAssertTrue(headings.contains(String(match.1)), "\(file) cites DESIGN.md section \"\(match.1)\", which it lacks")
            }
            for match in text.matches(of: /DESIGN\.md#([a-z0-9-]+)/) {
                citations += 1
                XCTAssertTrue(anchors.contains(String(match.1)), "\(file) links DESIGN.md#\(match.1), which is no heading")
            }
            for match in text.matches(of: /(?i:steps?) (\d)(?:–(\d))? of DESIGN\.md|DESIGN\.md, step (\d)/) {
                citations += 1
                for number in [match.1, match.2, match.3].compactMap({ $0 }).compactMap({ Int($0) }) {
                    XCTAssertTrue(steps.contains(number), "\(file) cites step \(number) of DESIGN.md, which has no such step")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(citations, 8, "the sources and README cite DESIGN.md's sections and steps")
    }
}
