import Replication

/// Why a sale (a shopper's checkout or a till's sale) is refused before anything of it stands.
/// The rules say it in the shop's words; Node maps each case to its problem type in one place
/// (`RuleRefusals+Problem.swift`), so a route, a storefront page and a till all read the same.
public enum SaleRefusal: Error, Equatable {
    /// This node's rights do not cover `asked` units of `sku`: it may sell `here`, the fleet
    /// holds `fleet`. `grantAsked`: a connected node holding rights was asked for them, so the
    /// same sale may pass in a moment (the caller may wait for the grant).
    case insufficientStock(sku: String, asked: Int64, here: Int64, fleet: Int64, grantAsked: Bool)
    /// A capped code's redemptions: none left in the fleet (`.usedUp`), none here and nobody
    /// connected to ask (`.noneHere`), or asked for (`.asked`: a grant may come).
    case codeExhausted(code: String, why: CodeExhaustion)
    /// A code that does not apply to this order or sale (`what`: "order" or "sale").
    case codeNotApplicable(code: String, refusal: CodeRefusal, what: String)
    /// Nothing to sell.
    case empty(what: String)
    /// A line not sold here now (unlisted, or no price in this region).
    case itemUnavailable(sku: String, detail: String)
    /// Prices changed since the lines were added: each with the price it had and has.
    case pricesChanged([(sku: String, was: Int64?, now: Int64)])
    /// The lines are priced in more than one currency, or not in the one the till counts in.
    case currencies(detail: String)
    /// Offline, a card beyond what the store may take without the hub (`reason`:
    /// over_floor_limit, exposure_cap_reached, exposure_unknown).
    case offlineCardRefused(reason: String, detail: String)
    /// The acquirer declined a card (`reason` as it said; `tender`: which of a till sale's).
    case cardDeclined(reason: String, detail: String, tender: Int?)
    /// The acquirer cannot be reached, or did not answer, or did not finish; nothing was charged.
    case acquirerUnreachable(detail: String)
    /// The node is answering `max` sales at once already.
    case busy(max: Int, what: String)

    public enum CodeExhaustion: Equatable, Sendable {
        case usedUp, noneHere, asked
    }

    /// Whether a grant another node was asked for may let the same sale pass shortly: the
    /// caller waits a little and tries again rather than answer at once.
    public var mayPassAfterGrant: Bool {
        switch self {
        case .insufficientStock(_, _, _, _, let grantAsked): grantAsked
        case .codeExhausted(_, .asked): true
        default: false
        }
    }

    public static func == (a: SaleRefusal, b: SaleRefusal) -> Bool {
        switch (a, b) {
        case let (.pricesChanged(x), .pricesChanged(y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.sku == $1.sku && $0.was == $1.was && $0.now == $1.now }
        case let (.insufficientStock(a1, a2, a3, a4, a5), .insufficientStock(b1, b2, b3, b4, b5)): a1 == b1 && a2 == b2 && a3 == b3 && a4 == b4 && a5 == b5
        case let (.codeExhausted(a1, a2), .codeExhausted(b1, b2)): a1 == b1 && a2 == b2
        case let (.codeNotApplicable(a1, a2, a3), .codeNotApplicable(b1, b2, b3)): a1 == b1 && a2 == b2 && a3 == b3
        case let (.empty(a1), .empty(b1)): a1 == b1
        case let (.itemUnavailable(a1, a2), .itemUnavailable(b1, b2)): a1 == b1 && a2 == b2
        case let (.currencies(a1), .currencies(b1)): a1 == b1
        case let (.busy(a1, a2), .busy(b1, b2)): a1 == b1 && a2 == b2
        case let (.acquirerUnreachable(a1), .acquirerUnreachable(b1)): a1 == b1
        case let (.offlineCardRefused(a1, a2), .offlineCardRefused(b1, b2)): a1 == b1 && a2 == b2
        case let (.cardDeclined(a1, a2, a3), .cardDeclined(b1, b2, b3)): a1 == b1 && a2 == b2 && a3 == b3
        default: false
        }
    }
}
