import Replication

/// What a node may take by card while the hub is unreachable (store-and-forward), as the hub
/// sets it. It replicates as configuration: a catalog entry `payment-policy:<node>`, or
/// `payment-policy:default` for every node without its own. Amounts are minor units of the
/// node's own currency (a node sells in one).
///
///     floor_limit     the most one offline card payment may be
///     exposure_cap    the most all of the node's card payments not yet settled may add up to
///     deadline_ms     how long after the sale the hub has to settle it
public struct OfflinePaymentPolicy: Equatable, Sendable {
    public var floorLimit: Int64
    public var exposureCap: Int64
    public var deadlineMs: Int64

    /// Until the hub says otherwise: about a day's worth of small sales, settled within 24 hours
    /// (card schemes' usual limit for store-and-forward).
    public static let builtIn = OfflinePaymentPolicy(floorLimit: 25_000, exposureCap: 250_000, deadlineMs: 24 * 3_600_000)

    public init(floorLimit: Int64, exposureCap: Int64, deadlineMs: Int64) {
        self.floorLimit = floorLimit
        self.exposureCap = exposureCap
        self.deadlineMs = deadlineMs
    }

    public static let keyPrefix = "payment-policy:"
    public static let defaultKey = keyPrefix + "default"
    public static func isKey(_ key: String) -> Bool { key.hasPrefix(keyPrefix) }
    public static func key(node: String?) -> String { node.map { keyPrefix + $0 } ?? defaultKey }

    public var fields: [String: FieldValue] {
        ["floor_limit": .integer(floorLimit), "exposure_cap": .integer(exposureCap), "deadline_ms": .integer(deadlineMs)]
    }

    public init?(fields: [String: FieldValue]) {
        guard case .integer(let floor)? = fields["floor_limit"], case .integer(let cap)? = fields["exposure_cap"],
              case .integer(let deadline)? = fields["deadline_ms"] else { return nil }
        self.init(floorLimit: floor, exposureCap: cap, deadlineMs: deadline)
    }

    /// Why a card payment of `amount` cannot be taken offline with `exposure` already open, or
    /// nil when it can. The words are for the shopper or cashier; `money` writes an amount. At a
    /// till a manager may waive the floor limit (`floorLimitWaived`); the cap holds regardless.
    public func refusal(amount: Int64, exposure: Int64, floorLimitWaived: Bool = false, money: (Int64) -> String) -> (reason: String, detail: String)? {
        if amount > floorLimit && !floorLimitWaived {
            return ("over_floor_limit", "card payments are offline here and this one is above the offline limit of \(money(floorLimit)): pay another way or try again later")
        }
        if exposure + amount > exposureCap {
            return ("exposure_cap_reached", "card payments are offline here and this store has taken all the offline card payments it may (\(money(exposureCap))) until the payment network is back: pay another way or try again later")
        }
        return nil
    }

    /// A policy from the admin API's JSON, every bad field named.
    public static func from(_ members: [String: LooseJSON]) throws(ValidationFailure) -> OfflinePaymentPolicy {
        var input = InputFields(members, known: ["floor_limit", "exposure_cap", "deadline_hours"], what: "offline payment policy")
        let money: ClosedRange<Int64> = 0...1_000_000_000_000
        let floor = input.count("floor_limit", money)
        let cap = input.count("exposure_cap", money)
        let hours = input.count("deadline_hours", 1...168)
        if floor == nil { input.fail("floor_limit", "is required: the most one offline card payment may be, in minor units (0 refuses all)") }
        if cap == nil { input.fail("exposure_cap", "is required: the most the node's unsettled offline card payments may add up to, in minor units") }
        if let floor, let cap, floor > cap { input.fail("floor_limit", "must not be above exposure_cap") }
        try input.check()
        return OfflinePaymentPolicy(floorLimit: floor ?? 0, exposureCap: cap ?? 0, deadlineMs: (hours ?? 24) * 3_600_000)
    }
}
