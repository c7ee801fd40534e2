/// A start-up error on one or more ranks, learnt by every rank in the same collective step
/// (`agreeOnStartup`), so that every rank can stop cleanly with exit status 2 and none waits in
/// a collective the failed ranks never join. On rank 0 the description holds each distinct
/// message once, with the ranks that reported it unless every rank did; the other ranks
/// describe why they stopped. Printed after "error: ", which begins each further line too.
public struct StartupFailure: Error, CustomStringConvertible {
    public let description: String
}

extension Communicator {
    /// Collective: runs `work` on this rank, then every rank learns whether it threw on any rank.
    /// Returns `work`'s value when it succeeded everywhere; otherwise every rank throws a
    /// `StartupFailure` and rank 0's names every failed rank's error.
    ///
    /// Needed wherever ranks may fail differently (a relative path that exists on one node's
    /// working directory and not another's, a reward program missing on one node): a rank that
    /// just threw would leave the others waiting forever in the next collective (issue 20, #8;
    /// DESIGN.md, "Rank duties"). Rank 0 prints the failed ranks' messages, so the job's output
    /// has each once, whichever node's stderr is kept.
    /// `work` must not use the communicator itself: a rank that threw early would miss it.
    func agreeOnStartup<Value>(_ work: () throws -> Value) throws -> Value {
        let outcome = Result { try work() }
        var message = ""
        if case .failure(let error) = outcome { message = "\(error)".isEmpty ? "\(type(of: error))" : "\(error)" }
        guard try allreduceSum(message.isEmpty ? 0 : 1) > 0 else { return try outcome.get() }
        let messages = try gather(string: message)    // [size] on rank 0, "" for a rank that succeeded
        guard isRoot else {
            throw StartupFailure(description: "rank \(rank) stopped: " + (message.isEmpty ? "another rank" : "this rank") + " failed at start-up")
        }
        var distinct: [(message: String, ranks: [Int])] = []
        for (rank, text) in messages.enumerated() where !text.isEmpty {
            if let index = distinct.firstIndex(where: { $0.message == text }) { distinct[index].ranks.append(rank) } else { distinct.append((text, [rank])) }
        }
        let lines = distinct.map { entry in
            entry.ranks.count == size ? entry.message
                : (entry.ranks.count == 1 ? "rank " : "ranks ") + entry.ranks.map(String.init).joined(separator: ", ") + ": " + entry.message
        }
        throw StartupFailure(description: lines.joined(separator: "\nerror: "))
    }
}
