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
            return StockRefusal.insufficientRights(key: nil, available: available, requested: requested).httpError
        case let .tooLarge(requested, room):
            return HTTPError(.validation, detail: "units: \(requested) would pass a counter's limit of \(BoundedCounter.entryUnitsMax) units (room for \(room))")
        }
    }
}

/// Staff's change of stock beyond this node's rights.
extension StockRefusal: ProblemConvertible {
    public var httpError: HTTPError {
        switch self {
        case let .insufficientRights(key, available, requested):
            var refusal = HTTPError(.insufficientRights, detail: "this node holds rights to \(available) units\(key.map { " of " + $0 } ?? ""); \(requested) asked")
            refusal.problem.extensions = [("available", .int(available))]
            return refusal
        }
    }
}

/// A sale refused before anything of it stands (a checkout's or a till's).
extension SaleRefusal: ProblemConvertible {
    public var httpError: HTTPError {
        switch self {
        case let .insufficientStock(sku, asked, here, fleet, grantAsked):
            var error = HTTPError(.insufficientStock, detail: "this node may sell \(here) of \(sku) now; \(asked) asked")
            if grantAsked { error.headers = HTTPHeaders([("Retry-After", "2")]) }
            error.problem.extensions = [("sku", .string(sku)), ("available", .int(fleet)), ("available_here", .int(here))]
            return error
        case let .codeExhausted(code, why):
            switch why {
            case .usedUp: return HTTPError(.discountCodeExhausted, detail: "the redemptions of \(code) are used up")
            case .noneHere: return HTTPError(.discountCodeExhausted, detail: "this node holds no redemptions of \(code) now and no node holding some is connected")
            case .asked: return HTTPError(.discountCodeExhausted, detail: "this node is asking for redemptions of \(code)", headers: HTTPHeaders([("Retry-After", "2")]))
            }
        case let .codeNotApplicable(code, refusal, what):
            var error = HTTPError(.discountCodeNotApplicable,
                                  detail: "the code \(code) does not apply to this \(what) (\(refusal.rawValue.replacingOccurrences(of: "_", with: " ")))")
            error.problem.extensions = [("code", .string(code)), ("reason", .string(refusal.rawValue))]
            return error
        case let .empty(what):
            return HTTPError(.cartEmpty, detail: "the \(what) has no lines")
        case let .itemUnavailable(_, detail):
            return HTTPError(.itemUnavailable, detail: detail)
        case let .pricesChanged(lines):
            var error = HTTPError(.priceChanged, detail: "\(lines.count) price\(lines.count == 1 ? "" : "s") changed since added; accept them and check out again")
            error.problem.extensions = [("lines", .array(lines.map {
                .object([JSONMember("sku", .string($0.sku)), JSONMember("unit_price", $0.was.map { .int($0) } ?? .null), JSONMember("current_unit_price", .int($0.now))])
            }))]
            return error
        case let .currencies(detail):
            return HTTPError(.validation, detail: detail)
        case let .offlineCardRefused(reason, detail):
            var error = HTTPError(.offlinePaymentRefused, detail: detail)
            error.problem.extensions = [("reason", .string(reason))]
            return error
        case let .cardDeclined(reason, detail, tender):
            var error = HTTPError(.paymentDeclined, detail: detail)
            error.problem.extensions = [("reason", .string(reason))] + (tender.map { [("tender", .int(Int64($0)))] } ?? [])
            return error
        case .acquirerUnreachable(let detail):
            return HTTPError(.acquirerUnreachable, detail: detail)
        case let .busy(max, what):
            return HTTPError(.notReady, detail: "the node is answering \(max) \(what) now; retry shortly", headers: HTTPHeaders([("Retry-After", "1")]))
        }
    }
}

/// A checkout's own refusals, before its sale is reserved.
extension CheckoutRefusal: ProblemConvertible {
    public var httpError: HTTPError {
        switch self {
        case .keyReused: HTTPError(.idempotencyKeyReused, detail: "this Idempotency-Key was used with another body")
        case .inProgress: HTTPError(.checkoutInProgress, detail: "this checkout is still being answered", headers: HTTPHeaders([("Retry-After", "1")]))
        case .wishlist: HTTPError(.validation, detail: "a wishlist is not checked out; add its lines to a cart")
        case .orderMissing: HTTPError(.internalError, detail: "the order of this checkout is missing")
        }
    }
}

/// An event refused on an order.
extension OrderRefusal: ProblemConvertible {
    public var httpError: HTTPError {
        switch self {
        case .notFound(let order): return HTTPError(.notFound, detail: "no order \(order)")
        case let .transition(status, event):
            var error = HTTPError(.orderTransition, detail: "a \(status.replacingOccurrences(of: "_", with: " ")) order cannot be \(event)")
            error.problem.extensions = [("order_status", .string(status))]
            return error
        case .refundAmount(let max): return HTTPError(.validation, detail: "amount must be 1 to \(max) (what is left to refund)")
        case .acquirerRefused(let said): return HTTPError(.paymentActionFailed, detail: "the acquirer refused: \(said)")
        case .owesNothing(let status):
            var error = HTTPError(.orderTransition, detail: "the order owes nothing: it is \(status.replacingOccurrences(of: "_", with: " "))")
            error.problem.extensions = [("order_status", .string(status))]
            return error
        case .tenderInProgress: return HTTPError(.orderTransition, detail: "another tender for this order is being taken")
        }
    }
}

/// A return refused, or a step its status does not allow.
extension ReturnRefusal: ProblemConvertible {
    public var httpError: HTTPError {
        switch self {
        case let .refused(reason, detail):
            var error = HTTPError(.returnRefused, detail: detail)
            error.problem.extensions = [("reason", .string(reason))]
            return error
        case let .transition(status, step):
            var error = HTTPError(.returnTransition, detail: "a \(status) return cannot be \(step)")
            error.problem.extensions = [("return_status", .string(status))]
            return error
        case let .replacementOutOfStock(sku, units):
            var error = HTTPError(.insufficientStock, detail: "this node may not sell \(units) of \(sku) now: refund the return, or take it back where the replacement is in stock")
            error.problem.extensions = [("sku", .string(sku))]
            return error
        }
    }
}

/// A till sale's step its state does not allow, or a till without a shift.
extension TillSaleRefusal: ProblemConvertible {
    public var httpError: HTTPError {
        switch self {
        case let .state(state, detail):
            var error = HTTPError(.saleState, detail: detail, headers: state == .completing ? HTTPHeaders([("Retry-After", "1")]) : HTTPHeaders())
            error.problem.extensions = [("state", .string(state.rawValue))]
            return error
        case .noOpenShift: return HTTPError(.noOpenShift, detail: "this till has no open shift; open one with its float first")
        }
    }
}

/// Tenders that do not pay the sale, or a malformed one.
extension TenderPlan.Refusal: ProblemConvertible {
    public var httpError: HTTPError {
        var error = HTTPError(.tendersRefused, detail: "\(field) \(reason)")
        error.problem.extensions = [("field", .string(field))]
        return error
    }
}

/// A shift's step refused.
extension ShiftRefusal: ProblemConvertible {
    public var httpError: HTTPError {
        HTTPError(.shiftState, detail: detail, headers: retrySoon ? HTTPHeaders([("Retry-After", "1")]) : HTTPHeaders())
    }
}
