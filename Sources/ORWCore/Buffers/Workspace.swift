/// A flat buffer that grows to the largest size asked for and is then reused, so the
/// activations of a training step cost no allocation once the largest batch has been seen.
/// The contents after a `reserve` that grew are unspecified.
final class TypedWorkspace<Element> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var capacity: Int

    init() {
        base = .allocate(capacity: 0)
        capacity = 0
    }

    deinit { base.deallocate() }

    /// Makes room for at least `count` elements and returns the start of the buffer.
    func reserve(_ count: Int) -> UnsafeMutablePointer<Element> {
        if count > capacity {
            base.deallocate()
            base = .allocate(capacity: count)
            capacity = count
        }
        return base
    }
}

/// Float activations and their gradients.
typealias Workspace = TypedWorkspace<Float>
