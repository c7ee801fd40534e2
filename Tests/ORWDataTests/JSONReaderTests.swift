import XCTest
@testable import ORWData

final class JSONReaderTests: XCTestCase {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONReader.parse(Array(text.utf8))
    }

    func testValues() throws {
        XCTAssertEqual(try parse(#" {"a": [1, -2, 3.5, 1e2, 18446744073709551615, 18446744073709551616], "b": null} "#),
                       .object(["a": .array([.integer(1), .number(-2), .number(3.5), .number(100),
                                             .integer(.max), .number(18446744073709551616)]),
                                "b": .null]))
        XCTAssertEqual(try parse("[true, false, {}, []]"), .array([.bool(true), .bool(false), .object([:]), .array([])]))
        XCTAssertEqual(try parse(#""q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#), .string("q\"\\/\u{8}\u{c}\n\r\té😀"))
        XCTAssertEqual(try parse(#""é 😀""#), .string("é 😀"))
    }

    func testRejectsWhatStrictJSONRejects() {
        let invalid = ["", "{", #"{"a":1,}"#, "[1,]", #"{"a":1,"a":2}"#, "01", "-", "1.", "1e", ".5", "+1",
                       "NaN", "Infinity", "[1] [2]", "{'a':1}", #""\x""#, #""\ud800""#, #""\udc00""#,
                       "\"tab\there\"", "// comment\n1", "tru", "nul",
                       String(repeating: "[", count: 100) + String(repeating: "]", count: 100)]
        for text in invalid {
            XCTAssertThrowsError(try parse(text), text)
        }
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 60) + String(repeating: "]", count: 60)))
    }

    func testDeepInputFailsWithoutRecursingFurther() {
        XCTAssertThrowsError(try parse(String(repeating: "[", count: 1_000_000))) { error in
            XCTAssertTrue("\(error)".contains("nested deeper"), "\(error)")
        }
    }

    /// The writer's pretty form is Python's `json.dumps(value, indent=2, sort_keys=True)` (as
    /// diffusers writes config.json), and what it writes reads back as the same value.
    func testWriterMatchesPythonsIndentedFormAndRoundTrips() throws {
        let value = JSONValue.object(["b": .array([.integer(1), .number(0.5), .number(1e-06), .null]), "a": .string("q\"\n"),
                                      "c": .object([:]), "d": .array([]), "e": .bool(true), "f": .number(-2.5)])
        XCTAssertEqual(JSONWriter.text(value, pretty: true), """
            {
              "a": "q\\"\\n",
              "b": [
                1,
                0.5,
                1e-06,
                null
              ],
              "c": {},
              "d": [],
              "e": true,
              "f": -2.5
            }
            """)
        XCTAssertEqual(JSONWriter.text(value), #"{"a":"q\"\n","b":[1,0.5,1e-06,null],"c":{},"d":[],"e":true,"f":-2.5}"#)
        for pretty in [false, true] {
            XCTAssertEqual(try parse(JSONWriter.text(value, pretty: pretty)), value)
        }
        // Whole numbers keep their form: "-1" stays an integer for Python, "3.0" a float.
        let numbers = try parse("[-1, 3.0, -0.0, -2.5, 1e999, -9007199254740993]")
        XCTAssertEqual(JSONWriter.text(numbers), "[-1,3.0,-0.0,-2.5,1e999,-9007199254740992.0]")
    }
}
