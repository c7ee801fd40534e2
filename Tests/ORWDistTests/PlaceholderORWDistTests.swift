import XCTest
@testable import ORWDist

final class PlaceholderORWDistTests: XCTestCase {
    func testModuleLoads() { XCTAssertTrue(true) }
}
