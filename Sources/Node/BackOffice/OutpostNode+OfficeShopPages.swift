import Commerce
import HTTP
import Platform

/// The store's pages: orders (ship, cancel, refund), stock (receive, adjust, transfer), the
/// returns queue, promotions and tills. Every action is a request to the node's API as the
/// signed-in account (`actAsStaff`).
extension OutpostNode {
    func registerOfficePages() {
        registerOfficeAccess()
        registerOfficePage("/admin/", section: "/admin/", summary: "The dashboard: today's sales, charts, the fleet's stores at the hub, low stock.") { [unowned self] request, session, send in
            send(officePage("office-dashboard", request, session: session, section: "/admin/", try dashboardView(nowMs: WallClock.nowMs())))
        }
        for report in ["sales", "products"] {
            // The API's CSV under the session: a download link works in the browser that signed in.
            registerOfficePage("/admin/reports/\(report).csv", section: "/admin/", summary: "The \(report) report as CSV, for the signed-in account.") { [unowned self] request, session, send in
                asStaff(session, "GET", "/admin/v1/reports/\(report)?" + (request.query ?? "") + "&format=csv") { [unowned self] response in
                    send(response.status == 200 ? response : officeMessagePage(request, status: response.status, heading: "That did not work",
                                                                              text: BackOffice.refusalText(response)))
                }
            }
        }
        registerOfficeOrderPages()
        registerOfficeStockPages()
        registerOfficeReturnPages()
        registerOfficeReviewPages()
        registerOfficeTillPages()
        registerOfficeFleetPages()
    }

    // MARK: Orders

    private func registerOfficeOrderPages() {
        registerOfficePage("/admin/orders", section: "/admin/orders", summary: "Orders: find by number or status.") { [unowned self] request, session, send in
            var target = "/admin/v1/orders?limit=50"
            let number = request.queryValue("number")?.trimmingWhitespace() ?? "", status = request.queryValue("status") ?? ""
            if !number.isEmpty { target += "&number=" + PercentEncoding.encode(number) }
            if !status.isEmpty { target += "&status=" + PercentEncoding.encode(status) }
            if let cursor = request.queryValue("cursor") { target += "&cursor=" + PercentEncoding.encode(cursor) }
            asStaff(session, "GET", target) { [unowned self] response in
                let list = BackOffice.json(response)
                let rows = (list?["orders"]?.items ?? []).map { order -> [BackOffice.Cell] in
                    let id = order["id"]?.text ?? ""
                    return [BackOffice.Cell(order["number"]?.text ?? id, href: "/admin/orders/" + PercentEncoding.encode(id)),
                            BackOffice.Cell(order["status"]?.text ?? ""), BackOffice.Cell(order["placed_at"]?.text ?? ""), BackOffice.Cell(order["node"]?.text ?? ""),
                            BackOffice.Cell(order["total"]?.integer.map { officeMoney($0, order["currency"]?.text ?? "EUR") } ?? "", style: "num")]
                }
                var view: BackOffice.View = [
                    "number": number,
                    "statuses": ([""] + OrderState.Status.allCases.map(\.rawValue)).map { value -> BackOffice.View in
                        var option: BackOffice.View = ["value": value, "name": value.isEmpty ? "any" : value.replacingOccurrences(of: "_", with: " ")]
                        if value == status { option["selected"] = true }
                        return option
                    },
                    "list": BackOffice.table(nil, ["Order", "Status", "Placed (UTC)", "Node", "Total"], rows,
                                             empty: response.status == 200 ? "No order matches." : BackOffice.refusalText(response)),
                ]
                if let cursor = list?["next_cursor"]?.text {
                    view["next"] = Storefront.href("/admin/orders", [("number", number), ("status", status), ("cursor", cursor)].filter { !$0.1.isEmpty })
                }
                send(officePage("office-orders", request, session: session, section: "/admin/orders", view))
            }
        }

        registerOfficeOrderPage()
    }

    /// One order, and what staff do to it.
    private func registerOfficeOrderPage() {
        registerOfficePage("/admin/orders/{id}", section: "/admin/orders", summary: "An order: lines, events, returns; ship, cancel, refund.") { [unowned self] request, session, send in
            let id = request.parameter("id") ?? ""
            guard let state = orderState(id), let placed = state.placed else { throw HTTPError(.notFound, detail: "There is no order \(id) here.") }
            let currency = placed.totals?.currency ?? "EUR"
            var view: BackOffice.View = [
                "id": id, "number": placed.number ?? id, "status": state.status.rawValue.replacingOccurrences(of: "_", with: " "),
                "placedAt": WallClock.iso8601(ms: placed.atMs), "node": placed.node, "total": officeMoney(placed.totals?.total ?? 0, currency),
                "payment": paymentState(state.paymentId)?.status ?? "none", "key": Hex.encode(SecureRandom.bytes(12)),
                "refundable": state.refundable,
                "lines": BackOffice.table("Lines", ["SKU", "Name", "Quantity", "Unit price"], (placed.lines ?? []).map {
                    [BackOffice.Cell($0.sku), BackOffice.Cell($0.name), .number($0.quantity), BackOffice.Cell(officeMoney($0.unitPrice, currency), style: "num")]
                }, empty: "No lines."),
                "events": BackOffice.table("History", ["When (UTC)", "What", "Node", "Detail"], state.events.map { event in
                    let detail = [event.carrier, event.tracking, event.reason, event.amount.map { officeMoney($0, currency) }, event.returnId.map { "return " + $0 }]
                        .compactMap { $0 }.joined(separator: " · ")
                    return [BackOffice.Cell(WallClock.iso8601(ms: event.atMs)), BackOffice.Cell(event.kind.rawValue.replacingOccurrences(of: "_", with: " ")),
                            BackOffice.Cell(event.node), BackOffice.Cell(detail)]
                }, empty: "No events."),
            ]
            if state.allows(.shipped) { view["canShip"] = true }
            if state.allows(.cancelled) { view["canCancel"] = true }
            if state.allows(.refunded) && state.refundable > 0 { view["canRefund"] = true }
            if !state.returns.isEmpty {
                view["returns"] = BackOffice.table("Returns", ["Return", "Status", "Units", "Refunded"], state.returns.map {
                    [BackOffice.Cell($0.id, href: "/admin/returns"), BackOffice.Cell($0.status.rawValue), .number($0.items.reduce(0) { $0 + $1.quantity }),
                     BackOffice.Cell(officeMoney($0.refundedAmount, currency), style: "num")]
                }, empty: "")
            }
            send(officePage("office-order", request, session: session, section: "/admin/orders", view))
        }

        for (action, summary) in [("ship", "Ship every unit left (captures the payment)."), ("cancel", "Cancel the order (voids the payment, stock back)."),
                                  ("refund", "Refund part or all of what was paid.")] {
            registerOfficeForm("/admin/orders/{id}/" + action, section: "/admin/orders", summary: summary) { [unowned self] request, session, finish in
                let id = request.parameter("id") ?? "", page = "/admin/orders/" + PercentEncoding.encode(id)
                var body: [JSONMember]
                switch action {
                case "ship": body = [JSONMember("kind", "shipped"), JSONMember("carrier", .string(request.formValue("carrier") ?? "")),
                                     JSONMember("tracking", .string(request.formValue("tracking") ?? ""))]
                case "cancel": body = [JSONMember("kind", "cancelled"), JSONMember("reason", .string(request.formValue("reason") ?? ""))]
                default:
                    guard let amount = Int64(request.formValue("amount") ?? "") else { return finish(page, ("amount must be a whole number of minor units", true)) }
                    body = [JSONMember("kind", "refunded"), JSONMember("amount", .int(amount)), JSONMember("reason", .string(request.formValue("reason") ?? ""))]
                }
                actAsStaff(session, "POST", "/admin/v1/orders/\(PercentEncoding.encode(id))/events", json: .object(body),
                           idempotencyKey: request.formValue("key").map { "office-\(action)-\($0)" }, location: page,
                           done: action == "ship" ? "Shipped." : action == "cancel" ? "Cancelled." : "Refunded.", finish: finish)
            }
        }
    }

    // MARK: Stock

    private func registerOfficeStockPages() {
        registerOfficePage("/admin/stock", section: "/admin/stock", summary: "Stock: a SKU's levels per location and movements; receive, adjust, transfer; low stock here.") { [unowned self] request, session, send in
            let sku = request.queryValue("sku")?.trimmingWhitespace() ?? ""
            var view: BackOffice.View = ["sku": sku]
            let low = try catalog.lowStock(location: myStockLocation, mark: CatalogJSON.StockState.lowStockUnits, limit: 50)
            view["low"] = BackOffice.table(nil, ["SKU", "Available", "This node may sell"], low.map {
                [BackOffice.Cell($0.sku, href: "/admin/stock?sku=" + PercentEncoding.encode($0.sku)), .number($0.available), .number($0.rightsHere)]
            }, empty: "Nothing is running low at \(myStockLocation).")
            guard !sku.isEmpty else { return send(officePage("office-stock", request, session: session, section: "/admin/stock", view)) }
            let path = "/admin/v1/inventory/" + PercentEncoding.encode(sku)
            readAsStaff(session, [path, path + "/movements?limit=20"]) { [unowned self] results in
                let levels = results[0], movements = results[1]
                if (try? catalog.productId(sku: sku)) != nil { view["found"] = true }
                view["levels"] = BackOffice.table("\(sku): \(levels?["available"]?.integer ?? 0) available, \(levels?["available_here"]?.integer ?? 0) this node may sell",
                                                  ["Location", "Available", "Rights here"], (levels?["locations"]?.items ?? []).map {
                    [BackOffice.Cell($0["location"]?.text ?? ""), .number($0["available"]?.integer ?? 0), .number($0["rights_here"]?.integer ?? 0)]
                }, empty: "No stock of \(sku) anywhere.")
                view["movements"] = BackOffice.table("Latest movements", ["When (UTC)", "Location", "Units", "Reason", "By", "Note"], (movements?["movements"]?.items ?? []).map {
                    [BackOffice.Cell($0["at"]?.text ?? ""), BackOffice.Cell($0["location"]?.text ?? ""), .number($0["units"]?.integer ?? 0),
                     BackOffice.Cell($0["reason"]?.text ?? ""), BackOffice.Cell($0["actor"]?.text ?? ""), BackOffice.Cell($0["note"]?.cellText ?? "")]
                }, empty: "No movements.")
                send(officePage("office-stock", request, session: session, section: "/admin/stock", view))
            }
        }

        for (action, summary) in [("receive", "Receive units into this store's stock."), ("adjust", "Correct a count (+ found, - damaged or lost)."),
                                  ("transfer", "Move units from this store to another location.")] {
            registerOfficeForm("/admin/stock/" + action, section: "/admin/stock", summary: summary) { [unowned self] request, session, finish in
                let sku = request.formValue("sku") ?? "", page = "/admin/stock?sku=" + PercentEncoding.encode(sku)
                let number = action == "adjust" ? request.formValue("delta") : request.formValue("units")
                guard let units = number.flatMap({ Int64($0.trimmingWhitespace()) }) else { return finish(page, ("units must be a whole number", true)) }
                var body: [JSONMember] = [JSONMember("sku", .string(sku)), JSONMember("units", .int(units))]
                switch action {
                case "receive": if let note = request.formValue("note"), !note.isEmpty { body.append(JSONMember("note", .string(note))) }
                case "adjust": body.append(JSONMember("reason", .string(request.formValue("reason") ?? "count")))
                default: body += [JSONMember("from", .string(myStockLocation)), JSONMember("to", .string(request.formValue("to") ?? ""))]
                }
                actAsStaff(session, "POST", "/admin/v1/inventory/" + action, json: .object(body), location: page,
                           done: action == "receive" ? "Received \(units) × \(sku)." : action == "adjust" ? "Adjusted \(sku) by \(units)." : "Transferred \(units) × \(sku).",
                           finish: finish)
            }
        }
    }

    // MARK: Returns

    private func registerOfficeReturnPages() {
        registerOfficePage("/admin/returns", section: "/admin/returns", summary: "The returns queue: approve, reject, receive, refund.") { [unowned self] request, session, send in
            var queue: [BackOffice.View] = []
            for order in try orderIndex.withOpenReturns(limit: 100) {
                guard let state = orderState(order.id) else { continue }
                for r in state.returns where r.status == .requested || r.status == .approved || (r.status == .received && !r.isExchangeOnly) {
                    var item: BackOffice.View = [
                        "order": order.id, "number": order.number ?? order.id, "returnId": r.id, "status": r.status.rawValue,
                        "items": r.items.map { "\($0.quantity) × \($0.sku)\($0.reason.map { " (\($0))" } ?? "")" }.joined(separator: ", "),
                        "requestedAt": WallClock.iso8601(ms: r.requestedMs),
                    ]
                    switch r.status {
                    case .requested: item["canApprove"] = true
                    case .approved: item["canReceive"] = true
                    default: item["canRefund"] = true
                    }
                    queue.append(item)
                }
            }
            send(officePage("office-returns", request, session: session, section: "/admin/returns", ["queue": queue]))
        }
        for (action, done) in [("approve", "Return approved: the shopper may send the goods."), ("reject", "Return rejected."),
                               ("receive", "Goods received and back in stock."), ("refund", "Refunded.")] {
            registerOfficeForm("/admin/returns/{order}/{return}/" + action, section: "/admin/returns", summary: "A return: \(action).") { [unowned self] request, session, finish in
                let order = PercentEncoding.encode(request.parameter("order") ?? ""), r = PercentEncoding.encode(request.parameter("return") ?? "")
                let body: JSONValue? = action == "reject" ? .object([JSONMember("reason", .string(request.formValue("reason") ?? ""))]) : nil
                actAsStaff(session, "POST", "/admin/v1/orders/\(order)/returns/\(r)/\(action)", json: body, location: "/admin/returns", done: done, finish: finish)
            }
        }
    }

    // MARK: Promotions and tills

    private func registerOfficeTillPages() {
        registerOfficePage("/admin/promotions", section: "/admin/promotions", summary: "Promotions and their redemptions; pause, resume, retire.") { [unowned self] request, session, send in
            let canChange = Self.promotionRoles.contains(session.account.role)
            asStaff(session, "GET", "/admin/v1/promotions?limit=100") { [unowned self] response in
                let list = BackOffice.json(response)?["promotions"]?.items ?? []
                send(officePage("office-promotions", request, session: session, section: "/admin/promotions", [
                    "canChange": canChange, "empty": response.status == 200 ? "No promotions." : BackOffice.refusalText(response),
                    "promotions": list.map { p -> BackOffice.View in
                        let id = p["id"]?.text ?? "", status = p["status"]?.text ?? ""
                        let actions: [(String, String, Bool)] = status == "retired" ? [] : (status == "paused" ? [("resume", "Resume", false)] : [("pause", "Pause", false)])
                            + [("retire", "Retire", true)]
                        return ["id": id, "name": p["name"]?.cellText ?? "", "kind": p["kind"]?.cellText ?? "", "status": status, "code": p["code"]?.cellText ?? "",
                                "redeemed": p["redemptions"]?["fleet"]?.cellText ?? "0", "left": p["redemptions"]?["left"]?.cellText ?? "",
                                "actions": actions.map { ["action": $0.0, "label": $0.1, "danger": $0.2] as BackOffice.View }]
                    },
                ]))
            }
        }
        for (action, done) in [("pause", "Promotion paused."), ("resume", "Promotion resumed."), ("retire", "Promotion retired for good.")] {
            registerOfficeForm("/admin/promotions/{id}/" + action, section: "/admin/promotions", summary: "A promotion: \(action).") { [unowned self] request, session, finish in
                actAsStaff(session, "POST", "/admin/v1/promotions/\(PercentEncoding.encode(request.parameter("id") ?? ""))/\(action)", location: "/admin/promotions",
                           done: done, finish: finish)
            }
        }
        registerOfficePage("/admin/tills", section: "/admin/tills", summary: "Tills: paired devices and each till's Z-reports.") { [unowned self] request, session, send in
            readAsStaff(session, ["/admin/v1/pos/devices", "/admin/v1/pos/z-reports?limit=100"]) { [unowned self] results in
                let devices = results[0]?["devices"]?.items ?? [], tills = results[1]?["tills"]?.items ?? []
                send(officePage("office-tills", request, session: session, section: "/admin/tills", [
                    "devices": BackOffice.table("Paired tills", ["Till", "Name", "Paired (UTC)", "By", "Revoked"], devices.map {
                        [BackOffice.Cell($0["id"]?.text ?? ""), BackOffice.Cell($0["name"]?.text ?? ""), BackOffice.Cell($0["paired_at"]?.text ?? ""),
                         BackOffice.Cell($0["paired_by"]?.text ?? ""), BackOffice.Cell($0["revoked_at"]?.cellText ?? "")]
                    }, empty: results[0] == nil ? "Tills are for store managers and operators." : "No till is paired with this node."),
                    "reports": BackOffice.table("Z-reports, latest per till", ["Till", "Chain", "Reports", "Closed (UTC)", "Sales", "Expected cash", "Counted", "Variance"],
                                                tills.map { till in
                        let latest = till["latest"]
                        let variance = latest?["variance"]?.integer ?? 0
                        return [BackOffice.Cell(till["key"]?.text ?? ""), BackOffice.Cell(till["chain_ok"]?.flag == true ? "verified" : "BROKEN", style: till["chain_ok"]?.flag == true ? nil : "bad"),
                                .number(till["reports_total"]?.integer ?? 0), BackOffice.Cell(latest?["closed_at"]?.cellText ?? ""),
                                .number(latest?["sales"]?.integer ?? 0), .number(latest?["expected_cash"]?.integer ?? 0), .number(latest?["counted"]?.integer ?? 0),
                                BackOffice.Cell(String(variance), style: variance == 0 ? "num" : "bad")]
                    }, empty: "No shift has been closed yet."),
                ]))
            }
        }
    }
}

extension OutpostNode {
    // MARK: Reviews

    func registerOfficeReviewPages() {
        registerOfficePage("/admin/reviews", section: "/admin/reviews", summary: "Reviews waiting for moderation: approve, reject, reply.") { [unowned self] request, session, send in
            let queue = try reviewBook.inStatus(.pending, limit: 100).map { review -> BackOffice.View in
                var view: BackOffice.View = [
                    "id": PercentEncoding.encode(review.key),
                    "product": product(review.product).flatMap { Product.localized($0.names, config.locale, fallback: config.locale) } ?? review.product,
                    "stars": String(repeating: "★", count: Int(review.rating)) + String(repeating: "☆", count: 5 - Int(review.rating)),
                    "status": review.status.rawValue, "author": review.author, "writtenAt": WallClock.iso8601(ms: review.writtenMs), "text": review.text,
                ]
                if let title = review.title { view["title"] = title }
                if let reply = review.reply { view["reply"] = reply }
                return view
            }
            send(officePage("office-reviews", request, session: session, section: "/admin/reviews", ["queue": queue]))
        }
        for action in Moderation.allCases {
            registerOfficeForm("/admin/reviews/{key}/" + action.rawValue, section: "/admin/reviews", summary: "A review: \(action.rawValue).") { [unowned self] request, session, finish in
                let key = PercentEncoding.encode(request.parameter("key") ?? "")
                let body: JSONValue? = action == .reply ? .object([JSONMember("reply", .string(request.formValue("reply") ?? ""))]) : nil
                actAsStaff(session, "POST", "/admin/v1/reviews/\(key)/\(action.rawValue)", json: body, location: "/admin/reviews",
                           done: action == .approve ? "Review approved: shoppers see it." : action == .reject ? "Review rejected." : "Reply saved.", finish: finish)
            }
        }
    }
}
