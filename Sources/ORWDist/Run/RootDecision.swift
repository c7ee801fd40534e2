import Foundation
import ORWCore

/// A decision rank 0 takes alone (it reads the run directory) and every rank must act on: the
/// outcome crosses one broadcast, so a config error ends every rank with the same message and
/// exit status 2, and any other error of rank 0 ends the others too, instead of leaving them
/// waiting in a collective.
enum RootDecision {
    /// What crosses the broadcast: the value, or the error every rank throws.
    private struct Outcome<Value: Codable>: Codable {
        var value: Value?
        var configError: [String]?    // field, problem, fix
        var error: String?
    }

    /// Collective. Rank 0 runs `decide`; every rank returns its value or throws its error.
    static func agree<Value: Codable>(world: any Communicator, _ decide: () throws -> Value) throws -> Value {
        var outcome = Outcome<Value>()
        var failure: Error?
        if world.isRoot {
            do {
                outcome.value = try decide()
            } catch let error as ConfigError {
                outcome.configError = [error.field, error.problem, error.fix]
                failure = error
            } catch {
                outcome.error = "\(error)"
                failure = error
            }
        }
        let bytes = try world.broadcast(bytes: world.isRoot ? Array(try JSONEncoder().encode(outcome)) : [])
        let shared = try JSONDecoder().decode(Outcome<Value>.self, from: Data(bytes))
        // A config error is then agreed by every rank: rank 0 prints it once, every rank exits 2.
        if let fields = shared.configError, fields.count == 3 {
            throw StartupFailure(description: "\(ConfigError(field: fields[0], problem: fields[1], fix: fields[2]))")
        }
        if let failure { throw failure }
        if let message = shared.error { throw BroadcastError(message: "rank 0 failed: \(message)") }
        guard let value = shared.value else { throw BroadcastError(message: "rank 0 sent no decision") }
        return value
    }
}
