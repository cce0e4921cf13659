import Commerce
import HTTP
import Ledger
import Platform
import Replication

extension OutpostNode {

    func registerTillShiftRoutes() {
        registerShiftRoutes()
        registerShiftCloseRoutes()
    }

    /// Opening a shift, the current shift, cash in and out, and opening the drawer.
    private func registerShiftRoutes() {
        let cashier: Access = .credential(Self.cashierScheme)
        let shiftId = RouteDoc.Parameter("id", in: .path, description: "The shift's id, made by the terminal.")

        router.add("POST", Self.tillPrefix + "/shifts", access: cashier, bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "openShift", summary: "Open this till's shift with the float counted into the drawer.",
            description: "Body: {\"id\": made by the terminal, \"float\": 10000 (minor units), \"currency\"?: \"EUR\" (default: the region's prices)}. The same request again answers the same shift.",
            tags: ["pos"], requestBody: .init(0, "Id and float.", schema: ["type": "object", "required": ["id", "float"]]),
            replies: [.init(201, "The shift.", schema: ["type": "object"]), .problem(409, "Another shift is open on this till.")])
        ) { [unowned self] request, responder in
            do {
                try openShiftRoute(request, responder)
            } catch {
                responder.fail(error)
            }
        }

        router.get(Self.tillPrefix + "/shifts/current", access: .credential(Self.deviceScheme), doc: RouteDoc(
            operationId: "currentShift", summary: "This till's open shift with its running figures (the Z-report so far).", tags: ["pos"],
            replies: [.init(200, "The shift.", schema: ["type": "object"]), .problem(404, "No open shift.")])
        ) { [unowned self] request in
            let device = tillDevice(request)
            guard let shift = try openShift(device: device) else { throw HTTPError(.notFound, detail: "this till has no open shift") }
            let report = try zReport(shift: shift.id, closedBy: "", counted: 0, nowMs: WallClock.nowMs())
            return .json(shiftJSON(report, closed: false))
        }

        router.add("POST", Self.tillPrefix + "/shifts/{id}/cash", access: cashier, bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "moveShiftCash", summary: "Cash into or out of the drawer besides sales (change from the bank, a bank drop, a petty-cash payout).",
            description: "Body: {\"id\": made by the terminal, \"kind\": \"in\" | \"out\", \"amount\": 2000, \"reason\": \"bank drop\"}. The same id again answers the same movement.",
            tags: ["pos"], parameters: [shiftId], requestBody: .init(0, "The movement.", schema: ["type": "object", "required": ["id", "kind", "amount", "reason"]]),
            replies: [.init(201, "The movement.", schema: ["type": "object"]), .problem(409, "The shift is not this till's open shift.")])
        ) { [unowned self] request, responder in
            do {
                let caller = try tillCaller(request)
                var fields = InputFields(try Self.jsonObject(request), known: ["id", "kind", "amount", "reason"], what: "cash movement")
                let id = fields.text("id"), kind = fields.text("kind"), amount = fields.count("amount", 1...100_000_000_000), reason = fields.text("reason")
                if !["in", "out"].contains(kind ?? "") { fields.fail("kind", "must be in or out") }
                if amount == nil { fields.fail("amount", "is required") }
                if reason.map({ !(1...200).contains($0.count) }) ?? true { fields.fail("reason", "must say why, in 1 to 200 characters") }
                try fields.check()
                try recordCashMovement(id: try Self.tillId(id, "id"), shift: try Self.tillId(request.parameter("id"), "the shift id"), kind: kind ?? "",
                                       amount: amount ?? 0, reason: reason, caller: caller, approvedBy: nil, responder: responder)
            } catch {
                responder.fail(error)
            }
        }

        router.add("POST", Self.tillPrefix + "/drawer/open", access: cashier, bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "openDrawer", summary: "Open the drawer without a sale (a no-sale): a manager approves; counted on the Z-report.",
            description: "Body: {\"id\": made by the terminal, \"reason\": \"give change\", \"approval\"?: {\"staff\", \"pin\"}}.",
            tags: ["pos"], requestBody: .init(0, "Why.", schema: ["type": "object", "required": ["id", "reason"]]),
            replies: [.init(201, "Recorded: open the drawer.", schema: ["type": "object"]), .problem(403, "A manager's approval is required.")])
        ) { [unowned self] request, responder in
            do {
                let caller = try tillCaller(request)
                let members = try Self.jsonObject(request)
                var fields = InputFields(members, known: ["id", "reason", "approval"], what: "no-sale")
                let id = fields.text("id"), reason = fields.text("reason")
                if reason.map({ !(1...200).contains($0.count) }) ?? true { fields.fail("reason", "must say why, in 1 to 200 characters") }
                try fields.check()
                let movement = try Self.tillId(id, "id")
                let shift = try requireOpenShift(device: caller.device)
                if try shifts.cashMovement(movement) == nil {
                    let by = try approver(members["approval"], caller: caller, action: "no_sale", detail: "opening the drawer without a sale")
                    try recordCashMovement(id: movement, shift: shift.id, kind: "no_sale", amount: 0, reason: reason, caller: caller, approvedBy: by, responder: responder)
                } else {
                    try recordCashMovement(id: movement, shift: shift.id, kind: "no_sale", amount: 0, reason: reason, caller: caller, approvedBy: nil, responder: responder)
                }
            } catch {
                responder.fail(error)
            }
        }
    }

    /// Closing a shift (at the till, or by a manager) and the Z-reports it makes.
    private func registerShiftCloseRoutes() {
        let cashier: Access = .credential(Self.cashierScheme)
        let shiftId = RouteDoc.Parameter("id", in: .path, description: "The shift's id, made by the terminal.")

        router.add("POST", "/admin/v1/pos/shifts/{id}/close", access: .roles([Self.managerRole, "operator"]), bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "closeShiftForTill", summary: "Close a till's open shift from the back office (a till revoked or broken mid-shift): its Z-report, as the till would close it.",
            description: "Body: {\"counted\": 51230}, the cash counted in that till's drawer. `nodectl pos close-shift` asks for it.",
            tags: ["pos"], parameters: [shiftId, .init("format", in: .query, description: "text: the printable report.")],
            requestBody: .init(0, "The count.", schema: ["type": "object", "required": ["counted"]]),
            replies: [.init(200, "The Z-report (with `text`).", schema: ["type": "object"]), .problem(409, "No such shift, or closed with another count.")])
        ) { [unowned self] request, responder in
            do {
                let shift = try Self.tillId(request.parameter("id"), "the shift id")
                try closeShift(request, shift: shift, closedBy: request.subject ?? "admin", device: nil, responder)
            } catch {
                responder.fail(error)
            }
        }

        router.add("POST", Self.tillPrefix + "/shifts/{id}/close", access: cashier, bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "closeShift", summary: "Close the shift with the cash counted: answers its Z-report, chained to the till's last and sent to the hub.",
            description: """
                Body: {"counted": 51230}. The Z-report: sales by tender, refunds, discounts, taxes, cash rounding, cash in and out, no-sales, \
                expected cash (float + cash taken − cash refunded + in − out) against counted, and the variance. Each report carries the hash of \
                the till's previous one and replicates to the hub, which anchors it in the ledger (a checkpoint) and books the variance. \
                The same request again answers the same report.
                """,
            tags: ["pos"], parameters: [shiftId, .init("format", in: .query, description: "text: the printable report.")],
            requestBody: .init(0, "The count.", schema: ["type": "object", "required": ["counted"]]),
            replies: [.init(200, "The Z-report (with `text`).", schema: ["type": "object"]), .problem(409, "Not this till's open shift, or closed with another count.")])
        ) { [unowned self] request, responder in
            do {
                try closeShiftRoute(request, responder)
            } catch {
                responder.fail(error)
            }
        }

        router.get("/admin/v1/pos/z-reports", access: .roles([Self.managerRole, "operator", "hub_admin"]), doc: RouteDoc(
            operationId: "listZReports", summary: "Z-reports this node holds (its own tills', and on the hub every store's), each till's chain checked.",
            description: """
                Without `till`: the tills by key (`<node>/<device>`), a page at a time, each with its chain checked, its number of \
                reports and the latest. With `till`: that till's reports, newest first, a page at a time.
                """,
            tags: ["pos"], parameters: [.init("node", in: .query, description: "Only this node's tills."),
                                        .init("till", in: .query, description: "One till's reports (its key, `<node>/<device>`).")] + KeyedPage<String>.parameters(),
            replies: [.init(200, "{tills: [{key, chain_ok, problem?, reports_total, latest}], next_cursor}, or with till: {key, chain_ok, problem?, reports: [...], next_cursor}",
                            schema: ["type": "object"]), .problem(400, "limit or cursor is malformed."), .problem(404, "No such till.")])
        ) { [unowned self] request in
            let keys = replica.whole(Collections.tills)?.states.keys.map { $0 } ?? []
            func chain(_ key: String, _ reports: [ZReport]) -> [JSONMember] {
                let broken = ZReport.chainBreak(reports)
                return [JSONMember("key", .string(key)), JSONMember("chain_ok", .bool(broken == nil))] + (broken.map { [JSONMember("problem", .string($0))] } ?? [])
            }
            if let till = request.queryValue("till") {
                guard keys.contains(till) else { throw HTTPError(.notFound, detail: "no Z-reports of a till \(till) here") }
                let reports = zReports(key: till)
                // Newest first: the cursor is the last report's seq, counted down.
                let limit = try KeyedPage<String>.limit(request, byDefault: 20, maximum: 100)
                let before = try ListCursor.parse(request)?.atMs ?? Int64.max
                let page = Array(reports.filter { $0.seq < before }.sorted { $0.seq > $1.seq }.prefix(limit))
                let next = ListCursor.next(after: page.last.map { ($0.seq, "") }, rows: page.count, limit: limit)
                return .json(.object(chain(till, reports) + [JSONMember("reports", .array(page.map { shiftJSON($0, closed: true) })), JSONMember("next_cursor", next)]))
            }
            let only = request.queryValue("node")
            let page = try KeyedPage(keys.filter { only == nil || $0.hasPrefix((only ?? "") + "/") }, key: { $0 }, request: request)
            let tills: [JSONValue] = page.items.map { key in
                let reports = zReports(key: key)
                return .object(chain(key, reports) + [JSONMember("reports_total", .int(Int64(reports.count))),
                                                      JSONMember("latest", reports.max { $0.seq < $1.seq }.map { shiftJSON($0, closed: true) } ?? .null)])
            }
            return .json(["tills": .array(tills), "next_cursor": page.next])
        }
    }

    private func openShiftRoute(_ request: Request, _ responder: Responder) throws {
        let caller = try tillCaller(request)
        var fields = InputFields(try Self.jsonObject(request), known: ["id", "float", "currency"], what: "shift")
        let id = fields.text("id"), float = fields.count("float", 0...100_000_000_000)
        let currency = fields.text("currency") ?? regionCurrency() ?? ""
        if float == nil { fields.fail("float", "is required: the cash counted into the drawer, in minor units") }
        if currency.count != 3 || !currency.allSatisfy({ $0.isASCII && $0.isUppercase }) {
            fields.fail("currency", "must be a currency code (nothing is priced in this region yet to take it from)")
        }
        try fields.check()
        let shiftId = try Self.tillId(id, "id"), nowMs = WallClock.nowMs()
        writer.submit({ [unowned self] db -> (opened: Int64, float: Int64, currency: String) in
            if let existing = try shifts.shift(shiftId) {
                guard existing.device == caller.device, !existing.isClosed else { throw ShiftRefusal("shift \(shiftId) exists already (another till's, or closed)") }
                return (existing.openedMs, existing.float, existing.currency)
            }
            if let open = try openShift(device: caller.device) { throw ShiftRefusal("shift \(open.id) is open on this till; close it first") }
            try shifts.open(shiftId, device: caller.device, by: caller.staff, atMs: nowMs, currency: currency, float: float ?? 0)
            return (nowMs, float ?? 0, currency)
        }, completion: { [unowned self] result in
            switch result {
            case .success(let shift):
                logger.info("till shift opened", metadata: ["shift": "\(shiftId)", "device": "\(caller.device)", "staff": "\(caller.staff)"])
                responder.send(.json(["id": .string(shiftId), "device": .string(caller.device), "opened_at": .string(WallClock.iso8601(ms: shift.opened)),
                                      "float": .int(shift.float), "currency": .string(shift.currency)], status: 201))
            case .failure(let error): responder.fail(error)
            }
        })
    }

    /// The currency most of the region's active products are priced in, for a shift that does
    /// not name one (nil: nothing is priced here yet).
    private func regionCurrency() -> String? {
        try? catalog.commonCurrency()
    }

    private func recordCashMovement(id: String, shift: String, kind: String, amount: Int64, reason: String?, caller: TillCaller, approvedBy: String?,
                                    responder: Responder) throws {
        let nowMs = WallClock.nowMs()
        writer.submit({ [unowned self] _ -> ShiftBook.CashMovement in
            if let existing = try shifts.cashMovement(id) {
                guard existing.kind == kind && existing.amount == amount else { throw HTTPError(.idempotencyKeyReused, detail: "movement \(id) was recorded with other figures") }
                return existing
            }
            guard let open = try openShift(device: caller.device), open.id == shift else { throw ShiftRefusal("shift \(shift) is not open on this till") }
            let movement = ShiftBook.CashMovement(kind: kind, amount: amount, approvedBy: approvedBy)
            try shifts.recordCashMovement(id, shift: shift, movement, reason: reason, staff: caller.staff, atMs: nowMs)
            return movement
        }, completion: { result in
            switch result {
            case .success(let movement):
                let approvedBy: JSONValue = movement.approvedBy.map { .string($0) } ?? .null
                responder.send(.json(.object([JSONMember("id", .string(id)), JSONMember("shift", .string(shift)), JSONMember("kind", .string(movement.kind)),
                                              JSONMember("amount", .int(movement.amount)), JSONMember("approved_by", approvedBy)]), status: 201))
            case .failure(let error): responder.fail(error)
            }
        })
    }

    /// A shift's figures from its sales, returns and cash movements; chained to the till's last
    /// report.
    func zReport(shift: String, closedBy: String, counted: Int64, nowMs: Int64) throws -> ZReport {
        guard let opened = try shifts.shift(shift) else { throw HTTPError(.notFound, detail: "no shift \(shift)") }
        let previous = zReports(key: ZReport.key(node: identity.nodeId, device: opened.device)).max { $0.seq < $1.seq }
        var report = ZReport(node: identity.nodeId, region: config.region, device: opened.device, shift: shift, seq: (previous?.seq ?? 0) + 1,
                             previousHash: previous?.hash ?? ZReport.firstPreviousHash, openedMs: opened.openedMs, closedMs: nowMs, openedBy: opened.openedBy,
                             closedBy: closedBy, currency: opened.currency, float: opened.float)
        let sold = try sales.totals(shift: shift)
        report.sales = sold.sales
        report.salesByTender = ["cash": sold.cash, "card": sold.card]
        report.discounts = sold.discount
        report.taxes = sold.tax
        report.rounding = sold.rounding
        report.voidedSales = sold.voided
        // A cash refund is rounded like a cash sale: what was paid back beyond what was due is
        // rounding too, and nets against the sales' (a sale and its full cash return round to 0).
        let returned = try sales.returnTotals(shift: shift)
        report.returns = returned.returns
        report.refundsByTender = ["cash": returned.cash, "card": returned.card]
        report.taxes -= returned.tax
        report.rounding -= returned.overpaid
        for (kind, movements) in try shifts.cashMovements(shift: shift) {
            switch kind {
            case "in": report.cashIn = movements.amount
            case "out": report.cashOut = movements.amount
            default: report.noSales = movements.count
            }
        }
        report.counted = counted
        return report
    }

    /// A till's reports as this node holds them (its own, or replicated to it), valid ones only.
    func zReports(key: String) -> [ZReport] {
        (replica.state(at: key, in: Collections.tills)?.elements ?? []).compactMap(ZReport.init(text:)).sorted { $0.seq < $1.seq }
    }

    func shiftJSON(_ report: ZReport, closed: Bool) -> JSONValue {
        let tenders = { (sums: [String: Int64]) -> JSONValue in .object(sums.sorted { $0.key < $1.key }.map { JSONMember($0.key, .int($0.value)) }) }
        var members = [
            JSONMember("shift", .string(report.shift)), JSONMember("node", .string(report.node)), JSONMember("device", .string(report.device)),
            JSONMember("opened_at", .string(WallClock.iso8601(ms: report.openedMs))), JSONMember("opened_by", .string(report.openedBy)),
            JSONMember("currency", .string(report.currency)), JSONMember("float", .int(report.float)), JSONMember("sales", .int(report.sales)),
            JSONMember("sales_by_tender", tenders(report.salesByTender)), JSONMember("returns", .int(report.returns)),
            JSONMember("refunds_by_tender", tenders(report.refundsByTender)), JSONMember("discounts", .int(report.discounts)),
            JSONMember("taxes", .int(report.taxes)), JSONMember("rounding", .int(report.rounding)), JSONMember("cash_in", .int(report.cashIn)),
            JSONMember("cash_out", .int(report.cashOut)), JSONMember("no_sales", .int(report.noSales)), JSONMember("voided_sales", .int(report.voidedSales)),
            JSONMember("expected_cash", .int(report.expectedCash)),
        ]
        if closed {
            members += [JSONMember("closed_at", .string(WallClock.iso8601(ms: report.closedMs))), JSONMember("closed_by", .string(report.closedBy)),
                        JSONMember("counted", .int(report.counted)), JSONMember("variance", .int(report.variance)), JSONMember("seq", .int(report.seq)),
                        JSONMember("previous_hash", .string(report.previousHash)), JSONMember("hash", .string(report.hash)),
                        JSONMember("text", .string(zReportText(report)))]
        }
        return .object(members)
    }

    /// The Z-report as the till prints it, 42 columns.
    func zReportText(_ z: ZReport) -> String {
        let width = 42
        func row(_ left: String, _ right: String) -> String { Receipt.row(left, right, width: width) }
        let money = { (amount: Int64) in Receipt.money(amount, currency: z.currency) }
        let rule = String(repeating: "-", count: width)
        var lines = ["Z-REPORT \(z.seq)", "Till \(z.device) at \(z.node)", "Shift \(z.shift)",
                     "Opened " + Receipt.slipTime(WallClock.iso8601(ms: z.openedMs)) + " by " + z.openedBy,
                     "Closed " + Receipt.slipTime(WallClock.iso8601(ms: z.closedMs)) + " by " + z.closedBy, rule,
                     row("Sales", String(z.sales))]
        for (tender, amount) in z.salesByTender.sorted(by: { $0.key < $1.key }) { lines.append(row("  " + tender.capitalized, money(amount))) }
        lines.append(row("Returns", String(z.returns)))
        for (tender, amount) in z.refundsByTender.sorted(by: { $0.key < $1.key }) { lines.append(row("  " + tender.capitalized + " refunded", money(-amount))) }
        lines += [row("Discounts", money(z.discounts)), row("Taxes", money(z.taxes)), row("Cash rounding", money(z.rounding)),
                  row("No-sales", String(z.noSales)), row("Voided sales", String(z.voidedSales)), rule,
                  row("Float", money(z.float)), row("Cash in", money(z.cashIn)), row("Cash out", money(-z.cashOut)),
                  row("Expected cash", money(z.expectedCash)), row("Counted cash", money(z.counted)), row("Variance", money(z.variance)), rule,
                  "Hash " + z.hash.prefix(32), "     " + z.hash.dropFirst(32)]
        return lines.map { String($0.prefix(width)) }.joined(separator: "\n") + "\n"
    }

    private func closeShiftRoute(_ request: Request, _ responder: Responder) throws {
        let caller = try tillCaller(request)
        let shift = try Self.tillId(request.parameter("id"), "the shift id")
        // A store manager may close another till's shift (a till revoked mid-shift still owes
        // its drawer a Z-report); a cashier only their own till's.
        try closeShift(request, shift: shift, closedBy: caller.staff, device: caller.isManager ? nil : caller.device, responder)
    }

    /// Closes `shift` with the count in the request's body and answers its Z-report; `device`
    /// nil lets any till's shift be closed (a manager, or the admin route).
    func closeShift(_ request: Request, shift: String, closedBy: String, device: String?, _ responder: Responder) throws {
        var fields = InputFields(try Self.jsonObject(request), known: ["counted"], what: "shift close")
        let counted = fields.count("counted", 0...100_000_000_000)
        if counted == nil { fields.fail("counted", "is required: the cash counted in the drawer, in minor units") }
        try fields.check()
        let wantsText = request.queryValue("format") == "text"
        let answer = { [unowned self] (report: ZReport) in
            responder.send(wantsText ? .text(zReportText(report)) : .json(shiftJSON(report, closed: true)))
        }
        writer.submit({ [unowned self] db -> ZReport in
            guard let found = try shifts.shift(shift), device == nil || found.device == device else {
                throw ShiftRefusal("shift \(shift) is not this till's")
            }
            if found.isClosed {
                guard let stored = found.zReport, let report = ZReport(text: stored), report.counted == counted else {
                    throw ShiftRefusal("shift \(shift) was closed with another count")
                }
                return report
            }
            if try sales.hasCompletion(inShift: shift) {
                throw ShiftRefusal("a sale of this shift is being completed; close again in a moment", retrySoon: true)
            }
            let nowMs = WallClock.nowMs()
            // Sales left open end with the shift: voided, and counted as such.
            try sales.voidOpen(inShift: shift, atMs: nowMs)
            let report = try zReport(shift: shift, closedBy: closedBy, counted: counted ?? 0, nowMs: nowMs)
            try shifts.close(shift, by: closedBy, atMs: nowMs, counted: counted ?? 0, zReport: report.text)
            try reservations.addEvents([report.text], key: report.key, in: Collections.tills, nowMs: WallClock.nowMs())
            return report
        }, completion: { [unowned self] result in
            switch result {
            case .success(let report):
                replicatedChanged()
                logger.info("till shift closed", metadata: ["shift": "\(shift)", "device": "\(report.device)", "by": "\(closedBy)",
                                                            "variance": "\(report.variance)", "z": "\(report.seq)"])
                answer(report)
            case .failure(let error): responder.fail(error)
            }
        })
    }

    // MARK: The hub: Z-reports as ledger checkpoints

    /// Hub: each Z-report that arrives is anchored in the journal (a checkpoint entry carrying
    /// its hash, against the store's cash account), and its variance is booked between the cash
    /// account and cash over/short. A report that does not chain is logged and left out, so the
    /// gap shows in `nodectl ledger verify`'s neighbour, `GET /admin/v1/pos/z-reports`.
    func anchorZReports(_ keys: [String]) throws {
        guard let desk = fleet.settlement else { return }
        switch desk.books {
        case .local(let ledger): try Self.anchor(zReportAnchors(keys), ledger: ledger, openAccounts: &desk.openAccounts)
        // Shared books: the leader anchors them in its next pass (every till when it takes the lead).
        case .shared(let hub): hub.tillsToAnchor.formUnion(keys)
        }
    }

    /// A Z-report as the journal anchors it.
    struct ZReportAnchor: Sendable {
        var id: String, varianceId: String
        var cash: LedgerAccount, overShort: LedgerAccount
        var counted: Int64, variance: Int64, hash: String, closedMs: Int64
    }

    /// The tills' Z-reports that chain, oldest first; a report that does not chain is logged
    /// and left out with every one after it.
    func zReportAnchors(_ keys: [String]) -> [ZReportAnchor] {
        var anchors: [ZReportAnchor] = []
        for key in keys {
            let reports = zReports(key: key)
            if let broken = ZReport.chainBreak(reports) { logger.error("a till's Z-reports do not chain", metadata: ["till": "\(key)", "problem": "\(broken)"]) }
            var previous = ZReport.firstPreviousHash
            for report in reports {
                guard report.previousHash == previous else { break }
                previous = report.hash
                anchors.append(ZReportAnchor(id: "z:\(key):\(report.seq)", varianceId: "z-variance:\(key):\(report.seq)",
                                             cash: ChartOfAccounts.cash(node: report.node, currency: report.currency),
                                             overShort: ChartOfAccounts.cashOverShort(region: report.region, currency: report.currency),
                                             counted: report.counted, variance: report.variance, hash: report.hash, closedMs: report.closedMs))
            }
        }
        return anchors
    }

    static func anchor(_ anchors: [ZReportAnchor], ledger: Ledger, openAccounts: inout Set<String>) throws {
        for anchor in anchors {
            for account in [anchor.cash, anchor.overShort] where !openAccounts.contains(account.id) {
                try ledger.open(account)
                openAccounts.insert(account.id)
            }
            // Anchored before (a replay, or a later report of the till arrived): its variance went in with it.
            guard case .created = try ledger.checkpoint(id: anchor.id, account: anchor.cash.id, amount: anchor.counted, code: "z_report",
                                                        reference: anchor.hash, atMs: anchor.closedMs) else { continue }
            if anchor.variance != 0 {
                let over = anchor.variance > 0
                _ = try ledger.create([TransferRequest(id: anchor.varianceId, debit: over ? anchor.cash.id : anchor.overShort.id,
                                                       credit: over ? anchor.overShort.id : anchor.cash.id, amount: abs(anchor.variance), code: "cash_variance",
                                                       reference: anchor.id)], atMs: anchor.closedMs)
            }
        }
    }
}
