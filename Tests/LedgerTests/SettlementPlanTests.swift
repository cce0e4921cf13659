import Commerce
import Ledger
import NodeTesting
import Platform
import XCTest

/// What the hub writes for a payment, from its events: the sale split into its parts, refunds
/// with their tax share, a replay that writes nothing, the three-way comparison.
final class SettlementPlanTests: XCTestCase {
    private func event(_ kind: PaymentEvent.Kind, node: String = "store-1", _ change: (inout PaymentEvent) -> Void = { _ in }) -> String {
        var event = PaymentEvent(kind: kind, atMs: 1_000, node: node)
        change(&event)
        return event.text
    }

    private func created(amount: Int64 = 11_900) -> String {
        event(.created) {
            $0.amount = amount
            $0.currency = "EUR"
            $0.region = "eu"
            $0.order = "o-1"
        }
    }

    private func inputs(_ texts: [String], recorded: Set<String> = [], answers: PaymentSettlement.AcquirerAnswers = .init()) -> PaymentSettlement.Inputs {
        PaymentSettlement.Inputs(paymentId: "p-1", payment: PaymentState(texts: texts), order: .init(total: 11_900, tax: 1_900, discount: 1_000),
                                 recorded: recorded, answers: answers, hub: "hub", atMs: 5_000)
    }

    func testACapturedSaleIsPostedAndSplitIntoTaxDiscountAndFeeInOneLinkedChain() throws {
        let texts = [created(), event(.authorized) { $0.code = "A1" }, event(.captured) { $0.amount = 11_900 }]
        XCTAssertEqual(PaymentSettlement.acquirerCalls(paymentId: "p-1", payment: PaymentState(texts: texts), recorded: []),
                       [.clearSale(amount: 11_900, code: "A1")], "a node's own authorization: only the clearing is the hub's")
        var answers = PaymentSettlement.AcquirerAnswers()
        answers.saleFee = 191
        let plan = PaymentSettlement.plan(inputs(texts, answers: answers))
        XCTAssertEqual(plan.steps.map { $0.transfers.map(\.id) }, [["auth:p-1"], ["capture:p-1", "tax:p-1", "discount:p-1", "fee:p-1"]])
        let chain = plan.steps[1].transfers
        XCTAssertEqual(chain.map(\.linked), [true, true, true, false], "the sale's parts stand or fall together")
        XCTAssertEqual(chain.map(\.amount), [11_900, 1_900, 1_000, 191])
        XCTAssertEqual(chain[1].debit, "revenue:eu:EUR")
        XCTAssertEqual(chain[1].credit, "tax:eu:EUR")
        XCTAssertEqual(plan.steps[1].events.map(\.kind), [.settled])
        XCTAssertEqual(plan.steps[1].events.first?.fee, 191)

        // The same payment again, with everything recorded: nothing to ask, nothing to write.
        let recorded: Set<String> = ["auth:p-1", "capture:p-1", "tax:p-1", "discount:p-1", "fee:p-1"]
        XCTAssertEqual(PaymentSettlement.acquirerCalls(paymentId: "p-1", payment: PaymentState(texts: texts), recorded: recorded), [])
        XCTAssertEqual(PaymentSettlement.plan(inputs(texts, recorded: recorded, answers: answers)).steps, [])
    }

    /// Books on PostgreSQL commit before the hub's events: a hub that died between the two, or
    /// one that took over before the events replicated, adds them from what the journal holds.
    func testTransfersInTheJournalWithoutTheirEventsGetTheEventsAndNothingIsWrittenTwice() throws {
        let texts = [created(), event(.authorized) { $0.code = "A1" }, event(.captured) { $0.amount = 11_900 },
                     event(.refunded) { $0.amount = 5_950; $0.refundId = "r-1" }]
        let recorded: Set<String> = ["auth:p-1", "capture:p-1", "tax:p-1", "discount:p-1", "fee:p-1", "refund:r-1", "refund-tax:r-1"]
        XCTAssertEqual(PaymentSettlement.acquirerCalls(paymentId: "p-1", payment: PaymentState(texts: texts), recorded: recorded), [],
                       "the acquirer is asked nothing again")
        var input = inputs(texts, recorded: recorded)
        input.recordedAmounts = ["auth:p-1": 11_900, "capture:p-1": 11_900, "fee:p-1": 191, "refund:r-1": 5_950]
        let plan = PaymentSettlement.plan(input)
        XCTAssertEqual(plan.steps.flatMap(\.transfers), [], "no transfer again")
        let events = plan.steps.flatMap(\.events)
        XCTAssertEqual(events.map(\.ref), ["sale", "r-1"])
        XCTAssertEqual(events.map(\.amount), [11_900, 5_950])
        XCTAssertEqual(events.first?.fee, 191)

        // With the events there, nothing more.
        let settled = texts + events.map(\.text)
        XCTAssertEqual(PaymentSettlement.plan(inputs(settled, recorded: recorded)).steps, [])
    }

    func testARefundWaitsForItsSaleAndTakesItsTaxShareBack() throws {
        let texts = [created(), event(.authorized) { $0.code = "A1" }, event(.captured) { $0.amount = 11_900 },
                     event(.refunded) { $0.amount = 5_950; $0.refundId = "r-1" }]
        var answers = PaymentSettlement.AcquirerAnswers()
        answers.clearedRefunds = ["r-1"]
        XCTAssertEqual(PaymentSettlement.plan(inputs(texts, recorded: ["auth:p-1"], answers: answers)).steps.count, 0,
                       "without the sale in the ledger, the refund waits")
        let plan = PaymentSettlement.plan(inputs(texts, recorded: ["auth:p-1", "capture:p-1"], answers: answers))
        XCTAssertEqual(plan.steps.map { $0.transfers.map(\.id) }, [["refund:r-1", "refund-tax:r-1"]])
        XCTAssertEqual(plan.steps[0].transfers.map(\.amount), [5_950, 950])
        XCTAssertEqual(plan.steps[0].events.first?.ref, "r-1")
    }

    func testAStoredCardIsHeldAgainstTheBudgetAndDeclinedByTheHubWithoutASale() throws {
        let stored = [created(), event(.stored) { $0.token = "tok_decline_insufficient_funds"; $0.deadlineMs = 90_000 }]
        XCTAssertEqual(PaymentSettlement.acquirerCalls(paymentId: "p-1", payment: PaymentState(texts: stored), recorded: []),
                       [.authorizeStored(token: "tok_decline_insufficient_funds")])
        var answers = PaymentSettlement.AcquirerAnswers()
        answers.storedAuthorization = .declined(.insufficientFunds)
        let plan = PaymentSettlement.plan(inputs(stored, answers: answers))
        XCTAssertEqual(plan.steps.map { $0.transfers.map(\.id) }, [["exposure:p-1"], ["exposure-release:p-1"], []])
        XCTAssertEqual(plan.steps[0].transfers[0].phase, .pending(timeoutMs: 90_000), "held until the deadline")
        XCTAssertEqual(plan.steps[0].transfers[0].debit, "exposure:store-1:EUR")
        XCTAssertEqual(plan.steps[2].events.map(\.kind), [.declined])
        XCTAssertEqual(plan.steps[2].events.first?.node, "hub")
        let declined = PaymentState(texts: stored + plan.steps[2].events.map(\.text))
        XCTAssertEqual(declined.status, "declined")
        XCTAssertEqual(declined.settlement, "declined")
        XCTAssertFalse(declined.awaitingHub)
    }

    func testReconciliationNamesEachDifferenceOnce() throws {
        func payment(_ id: String, captured: Int64, order: String) -> Reconciliation.Payment {
            let texts = [event(.created) { $0.amount = captured; $0.currency = "EUR"; $0.order = order },
                         event(.authorized) { $0.code = "A" }, event(.captured) { $0.amount = captured }]
            return Reconciliation.Payment(id: id, state: PaymentState(texts: texts))
        }
        let payments = [payment("p-1", captured: 1_000, order: "o-1"), payment("p-2", captured: 2_000, order: "o-2"),
                        payment("p-3", captured: 3_000, order: "o-3"), payment("p-4", captured: 4_000, order: "o-3")]
        let ledger: [String: [String: Int64]] = ["p-1": ["capture:p-1": 1_000], "p-2": ["capture:p-2": 2_000], "p-3": ["capture:p-3": 3_000], "p-4": ["capture:p-4": 4_000],
                      "p-9": ["capture:p-9": 900]]
        let csv = """
            settled_at,payment_id,reference,kind,currency,gross,fee,net\r
            2026-11-22T00:00:00.000Z,p-1,sale,sale,EUR,1000,39,961\r
            2026-11-22T00:00:00.000Z,p-2,sale,sale,EUR,2100,54,2046\r
            2026-11-22T00:00:00.000Z,p-3,sale,sale,EUR,3000,67,2933\r
            2026-11-22T00:00:00.000Z,p-3,sale,sale,EUR,3000,67,2933\r
            2026-11-22T00:00:00.000Z,p-8,sale,sale,EUR,800,36,764\r

            """
        let report = try AcquirerReportLine.parse(csv: csv).get()
        let result = Reconciliation(payments: payments, ledger: ledger, report: report, nowMs: 0)
        let found = result.differences.map { "\($0.kind.rawValue) \($0.paymentId)" }.sorted()
        XCTAssertEqual(found, ["amount_mismatch p-2", "duplicated p-3", "duplicated p-3,p-4", "missing_in_acquirer_report p-4",
                               "missing_in_payments p-8", "missing_in_payments p-9"])
        XCTAssertEqual(result.totals["store-1"]?["EUR"]?.payments, 4)

        guard case .failure(let error) = AcquirerReportLine.parse(csv: "settled_at,payment_id,reference,kind,currency,gross,fee,net\nx,p-1,sale,sale,EUR,ten,0,0\n") else {
            return XCTFail("a malformed line is refused")
        }
        XCTAssertEqual(error.line, 2)
    }
}
