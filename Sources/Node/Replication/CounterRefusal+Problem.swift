import HTTP
import Replication

/// How a stock or redemption counter's refusal reads over HTTP: the one place it is mapped.
extension BoundedCounter.Refusal: ProblemConvertible {
    public var httpError: HTTPError {
        switch self {
        case let .insufficientRights(available, requested):
            var refusal = HTTPError(.insufficientRights, detail: "this node holds rights to \(available) units; \(requested) asked")
            refusal.problem.extensions = [("available", .int(available))]
            return refusal
        case let .tooLarge(requested, room):
            return HTTPError(.validation, detail: "units: \(requested) would pass a counter's limit of \(BoundedCounter.entryUnitsMax) units (room for \(room))")
        }
    }
}
