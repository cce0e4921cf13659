import Commerce
import HTTP
import Replication

// How the rules' refusals read over HTTP, in one place: whatever path a refusal escapes by, the
// client gets its problem (422, 409...) rather than a 500.

/// Input that names its bad fields: 422 with every field listed.
extension ValidationFailure: ProblemConvertible {
    public var httpError: HTTPError { OutpostNode.validationError(self) }
}

/// A stock or redemption counter's refusal.
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
