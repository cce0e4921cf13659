import Commerce
import HTTP
import Ledger
import Platform
import Replication

extension OutpostNode {
    static let ledgerRoles = ["hub_admin"]

    /// The hub's desk, or the problem that says where the ledger is.
    func hubDesk() throws(HTTPError) -> SettlementDesk {
        guard let settlement = fleet.settlement else {
            var error = HTTPError(.notTheHub, detail: "this node is a \(config.role.rawValue); the ledger is on the hub\(fleet.knownHub.map { " (\($0))" } ?? "")")
            if let hub = fleet.knownHub { error.problem.extensions = [("hub", .string(hub))] }
            throw error
        }
        return settlement
    }

    /// `from` and `to` (ISO 8601, UTC): a half-open window; `to` defaults to now, `from` to 24 hours before it.
    static func window(_ request: Request) throws(HTTPError) -> (fromMs: Int64, toMs: Int64) {
        func time(_ name: String) throws(HTTPError) -> Int64? {
            guard let text = request.queryValue(name) else { return nil }
            guard let ms = WallClock.parseISO8601(text) else { throw HTTPError(.badRequest, detail: "\(name) must be a UTC time in ISO 8601 (2026-11-22T00:00:00Z)") }
            return ms
        }
        let toMs = try time("to") ?? WallClock.nowMs()
        let fromMs = try time("from") ?? toMs - 86_400_000
        guard fromMs < toMs else { throw HTTPError(.badRequest, detail: "from must be before to") }
        return (fromMs, toMs)
    }

    func registerLedgerRoutes() {
        registerLedgerStatusRoute()
        registerLedgerReadRoutes()
        registerLedgerReportRoutes()
        registerOfflinePolicyRoutes()
    }

    /// Where the books are and which hub settles: on any node.
    private func registerLedgerStatusRoute() {
        router.get("/admin/v1/ledger/status", access: .roles(Self.ledgerRoles + ["operator"]), doc: RouteDoc(
            operationId: "ledgerStatus", summary: "Where the books are (sqlite, postgresql), which hub leads settlement, the settlement queue.",
            description: "What `nodectl ledger status` shows. On a store: the leader the fleet was told of and the hub it forwards to.", tags: ["ledger"],
            replies: [.init(200, "{node_id, role, store, leads, leader: {hub, epoch, since}, lease_holder, lease_epoch, lease_problem, leading_since, hub, payments_queued, transfers_created, payments_settled}", schema: ["type": "object"])])
        ) { [unowned self] _ in
            var report = LedgerStatusReport(nodeId: identity.nodeId, role: config.role.rawValue, leads: false, leader: settlementLeaderReport,
                                            hub: config.role == .hub ? nil : settlementLeader?.hub ?? fleet.knownHub)
            if let desk = fleet.settlement {
                report.leads = desk.leads
                report.paymentsQueued = try? settlementQueue.count()
                report.transfersCreated = desk.transfersCreated
                report.paymentsSettled = desk.paymentsSettled
                switch desk.books {
                case .local: report.store = "sqlite"
                case .shared(let hub):
                    report.store = "postgresql"
                    (report.leaseHolder, report.leaseEpoch, report.leaseProblem) = (hub.lease.holder, hub.lease.epoch, hub.problem)
                    report.leadingSince = hub.leadingSinceMs.map { WallClock.iso8601(ms: $0) }
                }
            }
            return .json(report)
        }
    }

    /// Verify the books and read their balances.
    private func registerLedgerReadRoutes() {
        let problem = RouteDoc.Reply.problem

        router.add("GET", "/admin/v1/ledger/verify", access: .roles(Self.ledgerRoles), doc: RouteDoc(
            operationId: "verifyLedger", summary: "Recompute the journal's hash chain and every balance; name the first bad entry.",
            description: "Also checks the journal against every signed checkpoint of its head this hub holds (POST adds checkpoints from elsewhere).",
            tags: ["ledger"],
            replies: [.init(200, """
                {valid, entries, head, checkpoints: {checked, held, given, anchored_through}, problems: [{seq?, account?, reason}], \
                totals: {currency: {debits, credits}}}
                """, schema: ["type": "object"]),
                      problem(409, "Not the hub.")])
        ) { [unowned self] _, responder in
            verifyLedger(extra: [], responder: responder)
        }

        router.add("GET", "/admin/v1/ledger/balances", access: .roles(Self.ledgerRoles), doc: RouteDoc(
            operationId: "ledgerBalances", summary: "Every account's sums and balance, now or as they stood at a time.", tags: ["ledger"],
            parameters: [.init("account", in: .query, description: "An account id, or the start of ids (`clearing:` for every clearing account)."),
                         .init("at", in: .query, description: "ISO 8601 UTC: balances after the last entry at or before it.")]
                + KeyedPage<LedgerAccount>.parameters(byDefault: 500, maximum: 1000),
            replies: [.init(200, "{at, accounts: [{id, kind, currency, debits_pending, debits_posted, credits_pending, credits_posted, balance}], next_cursor}: by id",
                            schema: ["type": "object"]), problem(400, "at is malformed."), problem(409, "Not the hub.")])
        ) { [unowned self] request, responder in
            let desk: SettlementDesk
            var atMs: Int64?
            do {
                desk = try hubDesk()
                if let at = request.queryValue("at") {
                    guard let ms = WallClock.parseISO8601(at) else { throw HTTPError(.badRequest, detail: "at must be a UTC time in ISO 8601 (2026-11-22T00:00:00Z)") }
                    atMs = ms
                }
            } catch { return responder.fail(error) }
            desk.reading({ [atMs] ledger in try atMs.map { try ledger.balances(atMs: $0) } ?? ledger.accounts() }) { result in
                responder.answer { try Self.balancesJSON(result.get(), request: request) }
            }
        }
    }

    static func balancesJSON(_ all: [LedgerAccount], request: Request) throws -> Response {
            var accounts = all
            if let wanted = request.queryValue("account") { accounts = accounts.filter { $0.id == wanted || $0.id.hasPrefix(wanted) } }
            let page = try KeyedPage(accounts, key: \.id, request: request, byDefault: 500, maximum: 1000)
            return .json(.object([
                JSONMember("at", request.queryValue("at").map { .string($0) } ?? .string(WallClock.iso8601(ms: WallClock.nowMs()))),
                JSONMember("next_cursor", page.next),
                JSONMember("accounts", .array(page.items.map { account in
                    .object([JSONMember("id", .string(account.id)), JSONMember("kind", .string(account.kind.rawValue)),
                             JSONMember("currency", .string(account.currency)), JSONMember("debits_pending", .int(account.debitsPending)),
                             JSONMember("debits_posted", .int(account.debitsPosted)), JSONMember("credits_pending", .int(account.creditsPending)),
                             JSONMember("credits_posted", .int(account.creditsPosted)), JSONMember("balance", .int(account.balance))])
                })),
            ]))
    }

    /// The journal and the acquirer report as CSV, and reconciliation against that report.
    private func registerLedgerReportRoutes() {
        let problem = RouteDoc.Reply.problem
        let window: [RouteDoc.Parameter] = [.init("from", in: .query, description: "Start, ISO 8601 UTC (default: 24 hours before `to`)."),
                                            .init("to", in: .query, description: "End, exclusive, ISO 8601 UTC (default: now).")]
        let csv = "text/csv; charset=utf-8"

        router.add("GET", "/admin/v1/ledger/journal.csv", access: .roles(Self.ledgerRoles), doc: RouteDoc(
            operationId: "exportLedgerJournal", summary: "The journal's entries in a time window, as CSV a spreadsheet opens.",
            description: "Columns: seq, at (UTC), id, kind, debit, credit, amount_minor (integer minor units), currency, pending_id, code, reference, hash.",
            tags: ["ledger"], parameters: window,
            replies: [.init(200, "CSV.", contentType: csv), problem(400, "from or to is malformed."), problem(409, "Not the hub.")])
        ) { [unowned self] request, responder in
            let desk: SettlementDesk, fromMs: Int64, toMs: Int64
            do { (desk, (fromMs, toMs)) = (try hubDesk(), try Self.window(request)) } catch { return responder.fail(error) }
            desk.reading({ try $0.journal(fromMs: fromMs, toMs: toMs) }) { result in
                responder.answer {
                    var out = "seq,at,id,kind,debit,credit,amount_minor,currency,pending_id,code,reference,hash\r\n"
                    for entry in try result.get() {
                        let fields = [String(entry.seq), WallClock.iso8601(ms: entry.atMs), entry.id, entry.kind.rawValue, entry.debit, entry.credit,
                                      String(entry.amount), entry.currency, entry.pendingId ?? "", entry.code, entry.reference ?? "", Hex.encode(entry.hash)]
                        out += fields.map(Self.csvField).joined(separator: ",") + "\r\n"
                    }
                    return Response(status: 200, contentType: csv, headers: HTTPHeaders([("Content-Disposition", "attachment; filename=\"journal.csv\"")]),
                                    body: Array(out.utf8))
                }
            }
        }

        router.get("/admin/v1/ledger/acquirer-report.csv", access: .roles(Self.ledgerRoles), doc: RouteDoc(
            operationId: "sandboxAcquirerReport", summary: "The sandbox acquirer's settlement report for a window, as the acquirer would send it (CSV).",
            description: "Columns: settled_at, payment_id, reference (sale or a refund id), kind, currency, gross (refunds negative), fee, net.",
            tags: ["ledger"], parameters: window,
            replies: [.init(200, "CSV.", contentType: csv), problem(400, "from or to is malformed."), problem(409, "Not the hub.")])
        ) { [unowned self] request in
            _ = try hubDesk()
            let (fromMs, toMs) = try Self.window(request)
            guard let sandbox = gateway as? SandboxAcquirer else { throw HTTPError(.notFound, detail: "the acquirer \(gateway.name) sends its own reports") }
            return Response(status: 200, contentType: csv, body: Array(try sandbox.settlementReport(fromMs: fromMs, toMs: toMs).utf8))
        }

        router.add("POST", "/admin/v1/ledger/reconcile", access: .roles(Self.ledgerRoles), bodyBytesMax: 32 << 20, doc: RouteDoc(
            operationId: "reconcileLedger",
            summary: "Compare the payments replicated from every node, the journal and (if sent) the acquirer's settlement report; list every difference.",
            description: """
                Payments made in [from, to) are compared. Body (optional): the acquirer's settlement report as CSV (Content-Type text/csv). \
                Differences: missing_in_ledger, missing_in_acquirer_report, missing_in_payments, duplicated, amount_mismatch, unsettled_past_deadline; \
                totals per node and currency.
                """,
            tags: ["ledger"], parameters: window,
            requestBody: .init(0, "The acquirer's report (CSV), or nothing.", contentType: csv),
            replies: [.init(200, "{clean, from, to, differences: [...], totals: {node: {currency: {payments, settled, differences}}}}", schema: ["type": "object"]),
                      problem(400, "from or to is malformed."), problem(409, "Not the hub."), problem(422, "The report is malformed.")])
        ) { [unowned self] request, responder in
            let desk: SettlementDesk, fromMs: Int64, toMs: Int64, report: [AcquirerReportLine]?
            do { (desk, (fromMs, toMs), report) = (try hubDesk(), try Self.window(request), try Self.acquirerReport(request)) } catch { return responder.fail(error) }
            reconcile(desk: desk, fromMs: fromMs, toMs: toMs, report: report) { result in
                responder.answer { .json(Self.reconciliationJSON(try result.get(), fromMs: fromMs, toMs: toMs)) }
            }
        }
    }

    /// The acquirer's report a request carries as CSV, nil when it carries none.
    static func acquirerReport(_ request: Request) throws(HTTPError) -> [AcquirerReportLine]? {
            var report: [AcquirerReportLine]?
            if !request.body.isEmpty {
                guard let text = String(validating: request.body, as: UTF8.self) else { throw HTTPError(.acquirerReportMalformed, detail: "the report is not UTF-8 text") }
                switch AcquirerReportLine.parse(csv: text) {
                case .success(let lines): report = lines
                case .failure(let error):
                    var problem = HTTPError(.acquirerReportMalformed, detail: "line \(error.line): \(error.reason)")
                    problem.problem.extensions = [("line", .int(Int64(error.line)))]
                    throw problem
                }
            }
            return report
    }

    /// The offline card policies the hub sets per node, and the offline payments they let in.
    private func registerOfflinePolicyRoutes() {
        registerPolicyRoutes()
        registerOfflinePaymentRoutes()
    }

    /// The offline card policies, per node and the fleet's default.
    private func registerPolicyRoutes() {
        let problem = RouteDoc.Reply.problem

        router.get("/admin/v1/ledger/policies", access: .roles(Self.ledgerRoles + ["operator"]), doc: RouteDoc(
            operationId: "offlinePolicies", summary: "The offline card payment policies: the fleet's default and each node's own (a page of nodes by id).", tags: ["ledger"],
            parameters: KeyedPage<String>.parameters(),
            replies: [.init(200, "{default: {floor_limit, exposure_cap, deadline_hours}, nodes: {id: {...}}, next_cursor}", schema: ["type": "object"])])
        ) { [unowned self] request in
            let keys = replica.keys(in: Collections.catalog.name, withPrefix: OfflinePaymentPolicy.keyPrefix).filter { $0 != OfflinePaymentPolicy.defaultKey }
            let page = try KeyedPage(keys.map { String($0.dropFirst(OfflinePaymentPolicy.keyPrefix.count)) }, key: { $0 }, request: request)
            return .json(.object([
                JSONMember("default", Self.policyJSON(offlinePolicy(for: ""))),
                JSONMember("nodes", .object(page.items.map { JSONMember($0, Self.policyJSON(offlinePolicy(for: $0))) })),
                JSONMember("next_cursor", page.next),
            ]))
        }

        router.add("PUT", "/admin/v1/ledger/policies/{node}", access: .roles(Self.ledgerRoles), bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "setOfflinePolicy", summary: "Set a node's offline card payment policy (`default`: every node without its own). Hub only.",
            description: "Body: {floor_limit, exposure_cap (minor units of the node's currency), deadline_hours? (1 to 168, default 24)}. It replicates to the node as configuration.",
            tags: ["ledger"], parameters: [.init("node", in: .path, description: "A node id, or `default`."),
                                           .init("allow_unknown", in: .query, description: "true: for a node this hub has not heard of yet (not yet enrolled).")],
            requestBody: .init(0, "The policy.", schema: ["type": "object", "required": ["floor_limit", "exposure_cap"]]),
            replies: [.init(200, "The policy.", schema: ["type": "object"]), problem(404, "No such node known to the hub (see allow_unknown)."),
                      problem(409, "Not the hub."), problem(422, "A field is malformed.")])
        ) { [unowned self] request, responder in
            do {
                _ = try hubDesk()
                let node = request.parameter("node") ?? ""
                guard node == "default" || NodeConfig.isValidName(node) else { throw HTTPError(.validation, detail: "node must be a node id or default") }
                let policy: OfflinePaymentPolicy
                do { policy = try OfflinePaymentPolicy.from(try Self.jsonObject(request)) } catch let failure as ValidationFailure { throw Self.validationError(failure) }
                // A typo must not set a policy nobody has: a node is known once the hub has its
                // changes or has it as a peer.
                guard node == "default" || request.queryValue("allow_unknown") == "true" || knownNodes().contains(node) else {
                    throw HTTPError(.notFound, detail: "no node \(node) is known to this hub (it has sent nothing and is not a peer); allow_unknown=true sets a policy for a node not yet enrolled")
                }
                let fields = policy.fields
                commitCatalog(key: node == "default" ? OfflinePaymentPolicy.defaultKey : OfflinePaymentPolicy.key(node: node), fields: { fields }) { error in
                    if let error { return responder.fail(error) }
                    responder.send(.json(Self.policyJSON(policy)))
                }
            } catch {
                responder.fail(error)
            }
        }
    }

    /// The card payments taken offline and what the hub answered.
    private func registerOfflinePaymentRoutes() {
        let problem = RouteDoc.Reply.problem

        router.get("/admin/v1/payments/offline", access: .roles(["operator", "store_manager", "hub_admin"]), doc: RouteDoc(
            operationId: "offlinePayments", summary: "This node's card payments taken offline and not yet answered by the hub, with its policy.", tags: ["ledger"],
            parameters: [.init("limit", in: .query, description: "Payments per page, 1 to 1000, default 200.", schema: ["type": "integer"]), ListCursor.parameter],
            replies: [.init(200, """
                {online, hub, policy, open, exposure, overdue, payments: [{payment, order, amount, currency, taken_at, deadline, overdue}] (soonest \
                deadline first, a page at a time), next_cursor, declined: [{order, number, total, currency, placed_at}] (the oldest 100 orders \
                whose offline card the acquirer declined, owing another tender; all of them: GET /admin/v1/orders?status=payment_failed), declined_total}
                """,
                            schema: ["type": "object"]), problem(400, "limit or cursor is malformed.")])
        ) { [unowned self] request in
            let nowMs = WallClock.nowMs()
            let summary = try offlinePayments.summary(nowMs: nowMs)
            let limit = try KeyedPage<String>.limit(request, byDefault: 200, maximum: 1000)
            let rows = try offlinePayments.open(limit: limit, after: try ListCursor.parse(request).map { ($0.atMs, $0.id) })
            let declinedTotal = Int64(try ordersOwingPaymentCount())
            return .json(.object([
                JSONMember("online", .bool(cardPaymentsOnline)), JSONMember("hub", fleet.knownHub.map { .string($0) } ?? .null),
                JSONMember("policy", Self.policyJSON(offlinePolicy(for: identity.nodeId))),
                JSONMember("open", .int(Int64(summary.open))), JSONMember("exposure", .int(summary.exposure)), JSONMember("overdue", .int(Int64(summary.overdue))),
                JSONMember("payments", .array(rows.map { row in
                    .object([JSONMember("payment", .string(row.payment)), JSONMember("order", .string(row.order)), JSONMember("amount", .int(row.amount)),
                             JSONMember("currency", .string(row.currency)), JSONMember("taken_at", .string(WallClock.iso8601(ms: row.takenMs))),
                             JSONMember("deadline", .string(WallClock.iso8601(ms: row.deadlineMs))), JSONMember("overdue", .bool(row.deadlineMs < nowMs))])
                })),
                JSONMember("next_cursor", ListCursor.next(after: rows.last.map { ($0.deadlineMs, $0.payment) }, rows: rows.count, limit: limit)),
                JSONMember("declined", .array(try ordersOwingPayment(limit: 100).map { row in
                    .object([JSONMember("order", .string(row.id)), JSONMember("number", .string(row.number ?? "")), JSONMember("total", .int(row.total ?? 0)),
                             JSONMember("currency", .string(row.currency ?? "")), JSONMember("placed_at", .string(WallClock.iso8601(ms: row.placedMs ?? 0)))])
                })),
                JSONMember("declined_total", .int(declinedTotal)),
            ]))
        }
    }

    /// The hub's payments made in the window against the journal and the report. A report line
    /// or a settlement of a payment the hub holds but made outside the window is not compared.
    func reconcile(desk: SettlementDesk, fromMs: Int64, toMs: Int64, report: [AcquirerReportLine]?, completion: @escaping (Result<Reconciliation, any Error>) -> Void) {
        let collection = replica.whole(Collections.payments)
        var payments: [Reconciliation.Payment] = []
        var ids: [String] = []
        for (id, events) in collection?.states ?? [:] {
            let state = PaymentState(texts: events.elements)
            guard let created = state.createdMs, created >= fromMs, created < toMs else { continue }
            payments.append(.init(id: id, state: state))
            ids += PaymentSettlement.transferIds(paymentId: id, payment: state).filter { $0.hasPrefix("capture:") || $0.hasPrefix("refund:") }
        }
        let held = { (id: String) in collection?.states[id] != nil }
        let announce = { [unowned self] (result: Result<Reconciliation, any Error>) in
            if case .success(let reconciliation) = result { recordReconciliationDifferences(reconciliation, fromMs: fromMs, toMs: toMs) }
            completion(result)
        }
        desk.reading({ [ids] ledger in (try ledger.recorded(ids), try ledger.settlements(fromMs: fromMs, toMs: toMs)) }) { result in
            announce(result.map { recorded, windowed in
                var settled: [String: [String: Int64]] = [:]
                for payment in payments {
                    let mine = Set(PaymentSettlement.transferIds(paymentId: payment.id, payment: payment.state))
                    settled[payment.id] = recorded.filter { mine.contains($0.key) }
                }
                for (reference, transfers) in windowed where !held(reference) { settled[reference] = transfers }
                let inWindow = Set(payments.map(\.id))
                let lines = report?.filter { inWindow.contains($0.paymentId) || !held($0.paymentId) }
                return Reconciliation(payments: payments, ledger: settled, report: lines, nowMs: WallClock.nowMs())
            })
        }
    }

    /// Each difference a reconciliation found, once per window (the same run again adds nothing).
    private func recordReconciliationDifferences(_ result: Reconciliation, fromMs: Int64, toMs: Int64) {
        guard !desks.notices.endpoints.isEmpty, !result.differences.isEmpty else { return }
        let nowMs = WallClock.nowMs(), window = WallClock.iso8601(ms: fromMs) + "/" + WallClock.iso8601(ms: toMs)
        let events = result.differences.map { d in
            OperationNotices.event(.reconciliationDifference, subject: d.paymentId, idSeed: "\(window)\u{0}\(d.kind.rawValue)\u{0}\(d.paymentId)\u{0}\(d.reference)",
                                   atMs: nowMs, strings: ["kind": d.kind.rawValue, "payment": d.paymentId, "reference": d.reference, "node": d.node,
                                                          "currency": d.currency, "window": window, "detail": d.detail],
                                   ints: ["payments_amount": d.payments, "ledger_amount": d.ledger, "acquirer_amount": d.acquirer])
        }
        let endpoints = desks.notices.endpoints
        writer.submit({ [outbox] _ in try outbox.record(events, endpoints: endpoints, nowMs: nowMs) }, completion: { _ in })
    }

    static func reconciliationJSON(_ result: Reconciliation, fromMs: Int64, toMs: Int64) -> JSONValue {
        let amount = { (value: Int64?) -> JSONValue in value.map { .int($0) } ?? .null }
        return .object([
            JSONMember("clean", .bool(result.isClean)),
            JSONMember("from", .string(WallClock.iso8601(ms: fromMs))), JSONMember("to", .string(WallClock.iso8601(ms: toMs))),
            JSONMember("differences", .array(result.differences.map { difference in
                .object([JSONMember("kind", .string(difference.kind.rawValue)), JSONMember("payment", .string(difference.paymentId)),
                         JSONMember("reference", .string(difference.reference)), JSONMember("node", .string(difference.node)),
                         JSONMember("currency", .string(difference.currency)), JSONMember("payments_amount", amount(difference.payments)),
                         JSONMember("ledger_amount", amount(difference.ledger)), JSONMember("acquirer_amount", amount(difference.acquirer)),
                         JSONMember("detail", .string(difference.detail))])
            })),
            JSONMember("totals", .object(result.totals.sorted { $0.key < $1.key }.map { node, currencies in
                JSONMember(node, .object(currencies.sorted { $0.key < $1.key }.map { currency, sums in
                    JSONMember(currency, .object([JSONMember("payments", .int(Int64(sums.payments))), JSONMember("settled", .int(sums.settled)),
                                                  JSONMember("differences", .int(Int64(sums.differences)))]))
                }))
            })),
        ])
    }

    static func policyJSON(_ policy: OfflinePaymentPolicy) -> JSONValue {
        .object([JSONMember("floor_limit", .int(policy.floorLimit)), JSONMember("exposure_cap", .int(policy.exposureCap)),
                 JSONMember("deadline_hours", .int(policy.deadlineMs / 3_600_000))])
    }

    /// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
