import Platform

/// The desk every sale passes, a shopper's checkout or a till's: admitted within one bound,
/// reserved (waiting a moment for a peer's grant when this node lacks the rights), its cards
/// authorized at the acquirer or taken offline within the hub's policy. What is under way is
/// held here, each set with its bound. Loop thread only: the reservation runs in the caller's
/// group commit, the acquirer answers on the loop.
public final class SaleDesk {
    /// Sales answered at once (each holds its reservation and its answer's state until the
    /// acquirer and the commit are done): past it, new ones are refused (`SaleRefusal.busy`),
    /// so memory for them stays bounded. Those waiting for a peer's rights are among them.
    public static let inFlightMax = 4_096
    /// How long a sale short of rights here waits for a peer's grant before it is refused.
    public static let rightsWaitMs: Int64 = 2_000
    /// A soft decline is asked again with the same payment id (so it cannot count twice), this
    /// many times in all; still no answer then is `.timedOut`.
    public static let authorizationAttemptsMax = 3

    /// Which sale: a checkout by its cart and Idempotency-Key, a till sale by its id.
    public enum Sale: Hashable, Sendable {
        case checkout(cart: String, key: String)
        case tillSale(String)
    }

    public enum Admission: Equatable {
        case admitted
        /// The same sale is being answered now: its retry gets the answer.
        case alreadyInFlight
    }

    let writer: GroupCommit
    let gateway: any PaymentGateway
    let clock: () -> Int64
    /// After a reservation committed, before the acquirer is asked (crash tests hit this window).
    public var reservationCommitted: () -> Void = {}
    /// After any commit of a sale: the node tells its peers and views.
    public var changed: () -> Void = {}

    /// Sales between admission and answer. At most `inFlightMax`.
    public private(set) var inFlight: Set<Sale> = []
    /// Sales short of rights, tried again each tick until the grant arrives or `rightsWaitMs`
    /// passed. Each is in `inFlight`, so at most `inFlightMax`.
    private var waitingForRights: [() -> Void] = []
    /// Card payments taken offline and not yet committed: they count against the exposure cap
    /// so two sales at once cannot both take its last room.
    public private(set) var offlineInFlight: Int64 = 0

    /// `clock`: wall time in ms (a test's is moved by hand).
    public init(writer: GroupCommit, gateway: any PaymentGateway, clock: @escaping () -> Int64) {
        self.writer = writer
        self.gateway = gateway
        self.clock = clock
    }

    // MARK: Admission

    /// Takes the sale in, within the bound; `answered` gives its place back.
    public func admit(_ sale: Sale, what: String) throws(SaleRefusal) -> Admission {
        guard !inFlight.contains(sale) else { return .alreadyInFlight }
        guard inFlight.count < Self.inFlightMax else { throw .busy(max: Self.inFlightMax, what: what) }
        inFlight.insert(sale)
        return .admitted
    }

    public func isInFlight(_ sale: Sale) -> Bool { inFlight.contains(sale) }

    public func answered(_ sale: Sale) { inFlight.remove(sale) }

    // MARK: The reservation

    /// Commits a checkout's or a till sale's reservation with its record, through group commit.
    /// A refusal that may pass once a peer's grant arrives is tried again every tick until it
    /// passes or `rightsWaitMs` passed; the first attempt is the one that asks the peer.
    public func reserve(_ sale: SaleReservations.Sale, recordedAs record: SaleRecord, by reservations: SaleReservations,
                        completion: @escaping (Result<SaleReservations.Reservation, any Error>) -> Void) {
        attemptReservation(sale, record, reservations, waitingUntilMs: nil, completion: completion)
    }

    private func attemptReservation(_ sale: SaleReservations.Sale, _ record: SaleRecord, _ reservations: SaleReservations, waitingUntilMs: Int64?,
                                    completion: @escaping (Result<SaleReservations.Reservation, any Error>) -> Void) {
        let firstAttempt = waitingUntilMs == nil
        writer.submit({ [clock] _ in
            try reservations.reserve(sale, recordedAs: record, askPeers: firstAttempt, nowMs: clock())
        }, completion: { [unowned self] result in
            switch result {
            case .success(let reserved):
                reservationCommitted()
                changed()
                completion(.success(reserved))
            case .failure(let refusal as SaleRefusal) where refusal.mayPassAfterGrant && (waitingUntilMs ?? Int64.max) > clock():
                let until = waitingUntilMs ?? clock() + Self.rightsWaitMs
                waitingForRights.append { [unowned self] in attemptReservation(sale, record, reservations, waitingUntilMs: until, completion: completion) }
            case .failure(let error):
                completion(.failure(error))
            }
        })
    }

    /// Each tick: sales waiting for a peer's rights try again.
    public func retryWaitingForRights() {
        guard !waitingForRights.isEmpty else { return }
        let waiting = waitingForRights
        waitingForRights.removeAll()
        for retry in waiting { retry() }
    }

    // MARK: Cards

    /// Asks the acquirer to authorize, again with the same payment id while it asks for a retry,
    /// `authorizationAttemptsMax` times in all. A checkout and a till's card tender both come here.
    public func authorize(_ request: PaymentRequest, attempt: Int = 1, completion: @escaping (AuthorizationOutcome) -> Void) {
        gateway.authorize(request) { [unowned self] outcome in
            switch outcome {
            case .retry where attempt < Self.authorizationAttemptsMax: authorize(request, attempt: attempt + 1, completion: completion)
            case .retry: completion(.timedOut)
            default: completion(outcome)
            }
        }
    }

    /// Offline: whether cards of `amounts` may be taken now under `policy`, counted against what
    /// is taken and not yet answered (`recorded`, read from the book) and what is being decided
    /// now. Passed, they are held until `releaseOffline`. An exposure that cannot be read refuses
    /// (a cap that cannot be checked is not passed).
    public func holdOffline(_ amounts: [Int64], policy: OfflinePaymentPolicy, recorded: () throws -> Int64, floorLimitWaived: Bool,
                            money: (Int64) -> String) throws(SaleRefusal) -> Int64 {
        guard let taken = try? recorded() else {
            throw .offlineCardRefused(reason: "exposure_unknown",
                                      detail: "the store cannot read what it has taken offline, so it takes no card offline now; pay another way")
        }
        var exposure = taken + offlineInFlight
        for amount in amounts {
            if let refusal = policy.refusal(amount: amount, exposure: exposure, floorLimitWaived: floorLimitWaived, money: money) {
                throw .offlineCardRefused(reason: refusal.reason, detail: refusal.detail)
            }
            exposure += amount
        }
        let held = amounts.reduce(0, +)
        offlineInFlight += held
        return held
    }

    /// The offline cards' payments are committed (or the sale failed): they no longer count as
    /// being decided.
    public func releaseOffline(_ held: Int64) { offlineInFlight -= held }

    /// When a card taken offline now must reach the acquirer by, under `policy`.
    public func offlineDeadline(_ policy: OfflinePaymentPolicy) -> Int64 { clock() + policy.deadlineMs }
}
