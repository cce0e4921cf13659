import Platform

/// An account of the fleet's books, in one currency. Balances are kept as four sums, as
/// TigerBeetle keeps them, so pending (two-phase) amounts never mix with posted ones.
public struct LedgerAccount: Equatable, Sendable {
    /// Which side the account's balance normally sits on (docs/ledger.md lists the chart).
    public enum Kind: String, Sendable, CaseIterable {
        case asset, liability, revenue, expense, equity

        /// Assets and expenses grow with debits; the others with credits.
        public var growsWithDebits: Bool { self == .asset || self == .expense }
    }

    public var id: String
    public var kind: Kind
    public var currency: String
    public var debitsPending: Int64 = 0
    public var debitsPosted: Int64 = 0
    public var creditsPending: Int64 = 0
    public var creditsPosted: Int64 = 0
    /// A budget: debits (pending and posted) may never exceed posted credits (an exposure cap).
    public var debitsMustNotExceedCredits = false

    public init(id: String, kind: Kind, currency: String, debitsMustNotExceedCredits: Bool = false) {
        self.id = id
        self.kind = kind
        self.currency = currency
        self.debitsMustNotExceedCredits = debitsMustNotExceedCredits
    }

    /// An account as the books keep it, with its four sums.
    init(id: String, kind: Kind, currency: String, debitsMustNotExceedCredits: Bool,
         sums: (debitsPending: Int64, debitsPosted: Int64, creditsPending: Int64, creditsPosted: Int64)) {
        self.init(id: id, kind: kind, currency: currency, debitsMustNotExceedCredits: debitsMustNotExceedCredits)
        (debitsPending, debitsPosted, creditsPending, creditsPosted) = sums
    }

    /// The posted balance on the account's own side.
    public var balance: Int64 { kind.growsWithDebits ? debitsPosted - creditsPosted : creditsPosted - debitsPosted }
}

/// What one transfer asks the ledger to do. Its `id` comes from the event that caused it
/// (`settle:<payment>`, `refund:<refund>`), so a replay of that event is recorded once.
public struct TransferRequest: Equatable, Sendable {
    public enum Phase: Equatable, Sendable {
        /// Posted at once.
        case posted
        /// Reserved: counted as pending until posted, voided, or expired at `timeoutMs` (hub clock).
        case pending(timeoutMs: Int64?)
        /// Posts a pending transfer, in full or for less (nil: its whole amount); the rest is released.
        case post(pendingId: String, amount: Int64?)
        /// Releases a pending transfer.
        case void(pendingId: String)
    }

    public var id: String
    public var phase: Phase
    /// Accounts and amount; for post and void they come from the pending transfer (leave them empty).
    public var debit: String
    public var credit: String
    public var amount: Int64
    /// Why: settlement, refund, offline_sale, correction... (no personal data).
    public var code: String
    /// The payment, order or Z-report the transfer is about.
    public var reference: String?
    /// Commits together with the next request: the chain stands or falls as one.
    public var linked = false

    public init(id: String, phase: Phase = .posted, debit: String, credit: String, amount: Int64, code: String, reference: String? = nil, linked: Bool = false) {
        self.id = id
        self.phase = phase
        self.debit = debit
        self.credit = credit
        self.amount = amount
        self.code = code
        self.reference = reference
        self.linked = linked
    }

    public static func post(id: String, pending: String, amount: Int64? = nil, code: String, reference: String? = nil) -> TransferRequest {
        TransferRequest(id: id, phase: .post(pendingId: pending, amount: amount), debit: "", credit: "", amount: amount ?? 0, code: code, reference: reference)
    }

    public static func void(id: String, pending: String, code: String, reference: String? = nil) -> TransferRequest {
        TransferRequest(id: id, phase: .void(pendingId: pending), debit: "", credit: "", amount: 0, code: code, reference: reference)
    }
}

/// Why a transfer was not recorded. Nothing of it (or of its linked chain) was written.
public enum TransferError: String, Error, Sendable, Equatable, CaseIterable {
    case linkedEventFailed = "linked_event_failed"
    case linkedChainOpen = "linked_chain_open"
    case idMustNotBeEmpty = "id_must_not_be_empty"
    case existsWithDifferentFields = "exists_with_different_fields"
    case accountsMustDiffer = "accounts_must_differ"
    case debitAccountNotFound = "debit_account_not_found"
    case creditAccountNotFound = "credit_account_not_found"
    case currenciesMustMatch = "currencies_must_match"
    case amountMustBePositive = "amount_must_be_positive"
    case pendingNotFound = "pending_transfer_not_found"
    case pendingAlreadyPosted = "pending_transfer_already_posted"
    case pendingAlreadyVoided = "pending_transfer_already_voided"
    case pendingExpired = "pending_transfer_expired"
    case amountExceedsPending = "exceeds_pending_transfer_amount"
    case exceedsCredits = "exceeds_credits"
}

public enum TransferResult: Equatable, Sendable {
    case created(seq: Int64)
    /// The same transfer was recorded before: nothing new (a replay).
    case exists
    case failed(TransferError)

    public var isOK: Bool { if case .failed = self { false } else { true } }
}

/// One journal entry: a transfer as recorded, with its place in the chain.
public struct JournalEntry: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case posted, pending, post, void, expire
        /// Moves nothing: anchors an outside record (a till's Z-report, by its hash in
        /// `reference`) in the chain, against the account it is about (debit = credit).
        case checkpoint
    }

    public var seq: Int64
    public var id: String
    public var kind: Kind
    public var debit: String
    public var credit: String
    public var amount: Int64
    public var currency: String
    public var pendingId: String?
    public var timeoutMs: Int64?
    public var code: String
    public var reference: String?
    public var atMs: Int64
    /// SHA-256 of the previous entry's hash (32 zero bytes before the first) and this entry's
    /// canonical encoding.
    public var hash: [UInt8]

    /// The bytes the hash covers: JSON with sorted keys, absent optionals left out.
    public var canonical: [UInt8] {
        var out: [UInt8] = []
        appendCanonical(to: &out)
        return out
    }

    /// Written straight into `out`, keys in their sorted order: this runs once per transfer.
    func appendCanonical(to out: inout [UInt8]) {
        out.reserveCapacity(out.count + 160 + id.utf8.count + debit.utf8.count + credit.utf8.count + (reference?.utf8.count ?? 0))
        out.append(contentsOf: #"{"amount":"#.utf8)
        JSONText.appendInt(Int(amount), to: &out)
        out.append(contentsOf: #","at_ms":"#.utf8)
        JSONText.appendInt(Int(atMs), to: &out)
        out.append(contentsOf: #","code":"#.utf8)
        JSONText.appendString(code, to: &out)
        out.append(contentsOf: #","credit":"#.utf8)
        JSONText.appendString(credit, to: &out)
        out.append(contentsOf: #","currency":"#.utf8)
        JSONText.appendString(currency, to: &out)
        out.append(contentsOf: #","debit":"#.utf8)
        JSONText.appendString(debit, to: &out)
        out.append(contentsOf: #","id":"#.utf8)
        JSONText.appendString(id, to: &out)
        out.append(contentsOf: #","kind":"#.utf8)
        JSONText.appendString(kind.rawValue, to: &out)
        if let pendingId {
            out.append(contentsOf: #","pending_id":"#.utf8)
            JSONText.appendString(pendingId, to: &out)
        }
        if let reference {
            out.append(contentsOf: #","reference":"#.utf8)
            JSONText.appendString(reference, to: &out)
        }
        out.append(contentsOf: #","seq":"#.utf8)
        JSONText.appendInt(Int(seq), to: &out)
        if let timeoutMs {
            out.append(contentsOf: #","timeout_ms":"#.utf8)
            JSONText.appendInt(Int(timeoutMs), to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// The hash an entry after `previous` (empty before the first) must carry.
    public func chainedHash(after previous: [UInt8]) -> [UInt8] {
        var scratch: [UInt8] = []
        appendChained(after: previous, to: &scratch)
        return SHA256.hash(scratch)
    }

    /// The same, building the hashed bytes in `scratch` and hashing with `digester` (a batch
    /// and a verification reuse both).
    func chainedHash(after previous: [UInt8], scratch: inout [UInt8], digester: SHA256Digester) -> [UInt8] {
        scratch.removeAll(keepingCapacity: true)
        appendChained(after: previous, to: &scratch)
        return digester.hash(scratch)
    }

    private func appendChained(after previous: [UInt8], to out: inout [UInt8]) {
        if previous.isEmpty { out.append(contentsOf: repeatElement(0, count: 32)) } else { out.append(contentsOf: previous) }
        appendCanonical(to: &out)
    }
}
