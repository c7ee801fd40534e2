/// A flat Float buffer that grows to the largest size asked for and is then reused, so the
/// activations of a training step cost no allocation once the largest batch has been seen.
/// The contents after a `reserve` that grew are unspecified.
final class Workspace {
    private(set) var base: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    init() {
        base = .allocate(capacity: 0)
        capacity = 0
    }

    deinit { base.deallocate() }

    /// Makes room for at least `count` floats and returns the start of the buffer.
    func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            base.deallocate()
            base = .allocate(capacity: count)
            capacity = count
        }
        return base
    }
}
