import XCTest
@testable import ORWData

final class PlaceholderORWDataTests: XCTestCase {
    func testModuleLoads() { XCTAssertTrue(true) }
}
