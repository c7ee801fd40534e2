import XCTest
@testable import ORWCore

final class PlaceholderORWCoreTests: XCTestCase {
    func testModuleLoads() { XCTAssertTrue(true) }
}
