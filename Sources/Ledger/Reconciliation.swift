import Commerce
import Platform

/// One line of an acquirer's settlement report (CSV: settled_at, payment_id, reference, kind,
/// currency, gross, fee, net; refunds have a negative gross).
public struct AcquirerReportLine: Equatable, Sendable {
    public var paymentId: String
    /// `sale`, or the refund's id.
    public var reference: String
    public var kind: String
    public var currency: String
    /// Minor units, positive for sales and refunds alike.
    public var amount: Int64
    public var fee: Int64
    /// The line's number in the file (1 is the header).
    public var line: Int

    /// Reads a report; every line that is not a report line is named, and nothing is returned.
    public static func parse(csv text: String) -> Result<[AcquirerReportLine], ReportError> {
        var lines: [AcquirerReportLine] = []
        var number = 0
        var header = true
        // "\r\n" is one Character in Swift: split on the scalar, then drop a trailing CR.
        for raw in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var row = String(String.UnicodeScalarView(raw))
            if row.hasSuffix("\r") { row.removeLast() }
            if row.isEmpty { continue }
            let fields = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if header {
                header = false
                guard fields.count >= 8, fields[1] == "payment_id", fields[5] == "gross" else {
                    return .failure(ReportError(line: number, reason: "the header must be settled_at,payment_id,reference,kind,currency,gross,fee,net"))
                }
                continue
            }
            guard fields.count == 8, !fields[1].isEmpty, !fields[2].isEmpty, ["sale", "refund"].contains(fields[3]),
                  ProductInput.isCurrency(fields[4]), let gross = Int64(fields[5]), let fee = Int64(fields[6]), Int64(fields[7]) != nil else {
                return .failure(ReportError(line: number, reason: "expected 8 fields: time, payment id, reference, sale|refund, currency, gross, fee, net (whole minor units)"))
            }
            lines.append(AcquirerReportLine(paymentId: fields[1], reference: fields[2], kind: fields[3], currency: fields[4], amount: abs(gross), fee: fee, line: number))
        }
        if header { return .failure(ReportError(line: 1, reason: "the report is empty (no header)")) }
        return .success(lines)
    }

    public struct ReportError: Error, Equatable, Sendable {
        public var line: Int
        public var reason: String
    }
}

/// The three views of the fleet's card money, compared (docs/ledger.md): the payments replicated
/// from every node, the journal, and (when given) the acquirer's settlement report.
public struct Reconciliation: Sendable {
    public struct Difference: Equatable, Sendable {
        public enum Kind: String, Sendable, CaseIterable {
            /// A node captured or refunded it; the ledger has no settlement of it.
            case missingInLedger = "missing_in_ledger"
            /// Settled in the ledger; the acquirer's report does not list it.
            case missingInAcquirerReport = "missing_in_acquirer_report"
            /// In the ledger or the acquirer's report; no node's payments hold it.
            case missingInPayments = "missing_in_payments"
            /// Listed more than once (in the report), or an order charged by two payments.
            case duplicated
            case amountMismatch = "amount_mismatch"
            /// Taken offline and not settled by its deadline.
            case unsettledPastDeadline = "unsettled_past_deadline"
        }

        public var kind: Kind
        public var paymentId: String
        /// `sale`, or a refund's id.
        public var reference: String
        public var node: String
        public var currency: String
        /// What the payments say, the journal, and the acquirer (when they say anything).
        public var payments: Int64?
        public var ledger: Int64?
        public var acquirer: Int64?
        public var detail: String
    }

    /// A payment as the hub holds it.
    public struct Payment: Sendable {
        public var id: String
        public var state: PaymentState
        public init(id: String, state: PaymentState) {
            self.id = id
            self.state = state
        }
    }

    public var differences: [Difference] = []
    /// Per node and currency: payments looked at, and the amounts settled in the ledger.
    public var totals: [String: [String: (payments: Int, settled: Int64, differences: Int)]] = [:]

    /// `ledger`: per payment id, the amounts of its settlement transfers by id (`capture:<p>`,
    /// `refund:<r>`). `report`: nil when no report was given.
    public init(payments: [Payment], ledger: [String: [String: Int64]], report: [AcquirerReportLine]?, nowMs: Int64) {
        var known: [String: Payment] = [:]
        for payment in payments { known[payment.id] = payment }
        func add(_ kind: Difference.Kind, _ payment: String, _ reference: String, node: String?, currency: String?, payments: Int64? = nil,
                 ledger: Int64? = nil, acquirer: Int64? = nil, _ detail: String) {
            differences.append(Difference(kind: kind, paymentId: payment, reference: reference, node: node ?? "unknown", currency: currency ?? "?",
                                          payments: payments, ledger: ledger, acquirer: acquirer, detail: detail))
        }
        var reported: [String: [String: [AcquirerReportLine]]] = [:]
        for line in report ?? [] { reported[line.paymentId, default: [:]][line.reference, default: []].append(line) }
        var orders: [String: [String]] = [:]

        for payment in payments.sorted(by: { $0.id < $1.id }) {
            let state = payment.state, p = payment.id
            let node = state.node ?? "unknown", currency = state.currency ?? "?"
            totals[node, default: [:]][currency, default: (0, 0, 0)].payments += 1
            let settled = ledger[p] ?? [:]
            totals[node, default: [:]][currency, default: (0, 0, 0)].settled += settled["capture:" + p] ?? 0
            if state.captured > 0, let order = state.order { orders[order, default: []].append(p) }
            // The sale and each refund: the node's word, the ledger's and the acquirer's.
            var references: [(ref: String, transfer: String, expected: Int64)] = []
            if state.captured > 0 { references.append(("sale", "capture:" + p, state.captured)) }
            for (refund, amount) in state.refunds.sorted(by: { $0.key < $1.key }) where amount > 0 { references.append((refund, "refund:" + refund, amount)) }
            for (ref, transfer, expected) in references {
                let inLedger = settled[transfer]
                switch inLedger {
                case nil:
                    add(.missingInLedger, p, ref, node: node, currency: currency, payments: expected, "\(node) recorded \(ref == "sale" ? "the capture" : "refund \(ref)"); the ledger has no settlement of it")
                case let amount? where amount != expected:
                    add(.amountMismatch, p, ref, node: node, currency: currency, payments: expected, ledger: amount, "the node recorded \(expected), the ledger \(amount)")
                default: break
                }
                // Cash never reaches the acquirer: its report has nothing to say about it.
                guard report != nil, !state.isCash else { continue }
                let lines = reported[p]?[ref] ?? []
                if lines.count > 1 {
                    add(.duplicated, p, ref, node: node, currency: currency, ledger: inLedger, acquirer: lines.reduce(0) { $0 + $1.amount },
                        "the acquirer's report lists it \(lines.count) times (lines \(lines.map { String($0.line) }.joined(separator: ", ")))")
                } else if let line = lines.first {
                    let ours = inLedger ?? expected
                    if line.amount != ours {
                        add(.amountMismatch, p, ref, node: node, currency: currency, payments: expected, ledger: inLedger, acquirer: line.amount,
                            "the acquirer settled \(line.amount), the \(inLedger == nil ? "node recorded" : "ledger has") \(ours) (report line \(line.line))")
                    }
                } else if inLedger != nil {
                    add(.missingInAcquirerReport, p, ref, node: node, currency: currency, payments: expected, ledger: inLedger,
                        "settled in the ledger; the acquirer's report does not list it")
                }
            }
            if state.awaitingHub, let deadline = state.deadlineMs, deadline < nowMs {
                add(.unsettledPastDeadline, p, "sale", node: node, currency: currency, payments: state.amount,
                    "taken offline at \(node), due at the hub by \(WallClock.iso8601(ms: deadline)), not settled")
            }
        }
        for (order, ids) in orders.sorted(by: { $0.key < $1.key }) where ids.count > 1 {
            let first = known[ids[0]]?.state
            // The tenders of one till sale (a split tender) pay one order together.
            if first?.sale != nil, ids.allSatisfy({ known[$0]?.state.sale == first?.sale }) { continue }
            add(.duplicated, ids.joined(separator: ","), "sale", node: first?.node, currency: first?.currency,
                "order \(order) was captured by \(ids.count) payments")
        }
        // What the ledger or the acquirer settled that no payment in the window explains.
        for (p, transfers) in ledger.sorted(by: { $0.key < $1.key }) where known[p] == nil {
            for (transfer, amount) in transfers.sorted(by: { $0.key < $1.key }) where transfer.hasPrefix("capture:") || transfer.hasPrefix("refund:") {
                add(.missingInPayments, p, transfer.hasPrefix("capture:") ? "sale" : String(transfer.dropFirst(7)), node: nil, currency: nil, ledger: amount,
                    "the ledger settled it; no node's payments hold it")
            }
        }
        for line in report ?? [] where known[line.paymentId] == nil && ledger[line.paymentId] == nil {
            add(.missingInPayments, line.paymentId, line.reference, node: nil, currency: line.currency, acquirer: line.amount,
                "the acquirer's report (line \(line.line)) settled it; neither the payments nor the ledger know it")
        }
        for difference in differences {
            totals[difference.node, default: [:]][difference.currency, default: (0, 0, 0)].differences += 1
        }
    }

    public var isClean: Bool { differences.isEmpty }
}
