/// A till receipt: what the JSON reply and the printed slip both show.
public struct Receipt: Equatable, Sendable {
    public struct Line: Equatable, Sendable {
        public var name: String
        public var sku: String
        public var quantity: Int64
        public var unitPrice: Int64
        /// The price the catalog asked, when a manager overrode it.
        public var listPrice: Int64?
        /// Taken off this line by hand (line discount), not by a promotion.
        public var discount: Int64

        public init(name: String, sku: String, quantity: Int64, unitPrice: Int64, listPrice: Int64? = nil, discount: Int64 = 0) {
            self.name = name
            self.sku = sku
            self.quantity = quantity
            self.unitPrice = unitPrice
            self.listPrice = listPrice
            self.discount = discount
        }

        public var amount: Int64 { quantity * unitPrice }
    }

    public struct Tender: Equatable, Sendable {
        public var kind: TenderKind
        public var amount: Int64
        public var tendered: Int64
        public var change: Int64
        /// Card: the authorization code, or "offline" for a card taken store-and-forward.
        public var reference: String?

        public init(kind: TenderKind, amount: Int64, tendered: Int64, change: Int64, reference: String?) {
            self.kind = kind
            self.amount = amount
            self.tendered = tendered
            self.change = change
            self.reference = reference
        }
    }

    /// Store name and address lines, centred at the top.
    public var header: [String]
    public var number: String
    public var orderId: String
    /// UTC ISO 8601.
    public var at: String
    public var device: String
    public var cashier: String
    public var currency: String
    public var lines: [Line]
    /// Promotions and basket discounts: name and amount off.
    public var discounts: [(name: String, amount: Int64)]
    public var subtotal: Int64
    public var tax: Int64
    public var taxIncluded: Bool
    public var total: Int64
    public var rounding: Int64
    public var tenders: [Tender]
    public var customer: String?
    /// "price override on MUG-BLUE by mgr-1": what a manager approved.
    public var approvals: [String]
    /// Set on a reprint: the slip says COPY.
    public var copy = false
    /// A refund slip (a return): amounts are paid back.
    public var isRefund = false
    /// On a refund slip: what the shopper took instead of some returned units, at the price
    /// paid (it shows as a discount "Exchange" of the same amount), and its order's number.
    public var exchanges: [Line] = []
    public var exchangeNumber: String?

    public init(header: [String], number: String, orderId: String, at: String, device: String, cashier: String, currency: String, lines: [Line],
                discounts: [(name: String, amount: Int64)], subtotal: Int64, tax: Int64, taxIncluded: Bool, total: Int64, rounding: Int64,
                tenders: [Tender], customer: String?, approvals: [String]) {
        self.header = header
        self.number = number
        self.orderId = orderId
        self.at = at
        self.device = device
        self.cashier = cashier
        self.currency = currency
        self.lines = lines
        self.discounts = discounts
        self.subtotal = subtotal
        self.tax = tax
        self.taxIncluded = taxIncluded
        self.total = total
        self.rounding = rounding
        self.tenders = tenders
        self.customer = customer
        self.approvals = approvals
    }

    public static func == (a: Receipt, b: Receipt) -> Bool {
        a.text() == b.text() && a.orderId == b.orderId
    }

    public var change: Int64 { tenders.reduce(0) { $0 + $1.change } }

    /// The slip, `width` columns of plain text (42 fits 80 mm ESC/POS paper in font A), lines
    /// ending in LF, ASCII where the names are; names too long wrap.
    public func text(width: Int = 42) -> String {
        slipLines(width: width, copy: copy).joined(separator: "\n") + "\n"
    }

    /// The slip and its reprint (marked COPY), laid out once: a completion keeps both.
    public func texts(width: Int = 42) -> (slip: String, copy: String) {
        var lines = slipLines(width: width, copy: false)
        let slip = lines.joined(separator: "\n") + "\n"
        lines.insert(Self.centred("*** COPY ***", width: width), at: header.count)
        return (slip, lines.joined(separator: "\n") + "\n")
    }

    /// One line of a slip: `left`, and `right` flush with the right edge (left cut to make room).
    public static func row(_ left: String, _ right: String, width: Int) -> String {
        guard !right.isEmpty else { return String(left.prefix(width)) }
        let room = width - right.count - 1
        let shown = left.count > room ? String(left.prefix(max(0, room))) : left
        return shown + String(repeating: " ", count: max(1, width - shown.count - right.count)) + right
    }

    /// "2026-11-22 10:15" from a UTC ISO 8601 time: what a slip prints.
    public static func slipTime(_ iso8601: String) -> String {
        String(iso8601.prefix(16).map { $0 == "T" ? " " : $0 })
    }

    private static func centred(_ text: String, width: Int) -> String {
        let cut = text.count > width ? String(text.prefix(width)) : text
        return String(repeating: " ", count: max(0, (width - cut.count) / 2)) + cut
    }

    private func slipLines(width: Int, copy: Bool) -> [String] {
        var out: [String] = []
        let rule = String(repeating: "-", count: width)
        func centred(_ text: String) -> String { Self.centred(text, width: width) }
        func row(_ left: String, _ right: String) -> String { Self.row(left, right, width: width) }
        func wrapped(_ text: String) -> [String] {
            var lines: [String] = [], current = ""
            for word in text.split(separator: " ") {
                if current.isEmpty { current = String(word.prefix(width)) } else if current.count + 1 + word.count <= width { current += " " + word } else {
                    lines.append(current)
                    current = String(word.prefix(width))
                }
            }
            if !current.isEmpty { lines.append(current) }
            return lines
        }
        let money = { (amount: Int64) in Self.money(amount, currency: currency) }
        out += header.map(centred)
        if copy { out.append(centred("*** COPY ***")) }
        if isRefund { out.append(centred("REFUND")) }
        out.append(rule)
        out.append(row("Receipt " + number, ""))
        out.append(row(Self.slipTime(at), "Till " + device))
        out.append(row("Cashier " + cashier, ""))
        if let customer { out.append(row("Customer " + customer, "")) }
        out.append(rule)
        for line in lines {
            out += wrapped(line.name)
            out.append(row("  \(line.quantity) x \(money(line.unitPrice))", money(line.amount)))
            if let list = line.listPrice { out.append(row("  (was \(money(list)))", "")) }
            if line.discount > 0 { out.append(row("  Discount", money(-line.discount))) }
        }
        if !exchanges.isEmpty {
            out.append(rule)
            out.append(row("Exchanged for", exchangeNumber ?? ""))
            for line in exchanges {
                out += wrapped(line.name + " (" + line.sku + ")")
                out.append(row("  \(line.quantity) x \(money(line.unitPrice))", money(line.amount)))
            }
        }
        out.append(rule)
        out.append(row("Subtotal", money(subtotal)))
        for discount in discounts where discount.amount > 0 { out.append(row(discount.name, money(-discount.amount))) }
        if !taxIncluded { out.append(row("Tax", money(tax))) }
        out.append(row(isRefund ? "REFUND TOTAL " + currency : "TOTAL " + currency, money(total)))
        if rounding != 0 { out.append(row("Cash rounding", money(rounding))) }
        if taxIncluded && tax > 0 { out.append(row("  incl. tax", money(tax))) }
        out.append(rule)
        for tender in tenders {
            switch tender.kind {
            case .cash:
                out.append(row("Cash", money(tender.tendered)))
                if tender.change > 0 { out.append(row("Change", money(tender.change))) }
            case .card:
                out.append(row("Card" + (tender.reference.map { " " + $0 } ?? ""), money(tender.amount)))
            }
        }
        if !approvals.isEmpty {
            out.append(rule)
            for approval in approvals { out += wrapped("Approved: " + approval) }
        }
        if out.last != rule { out.append(rule) }
        out.append(centred(isRefund ? "Keep this slip" : "Thank you"))
        return out.map { $0.count > width ? String($0.prefix(width)) : $0 }
    }

    /// "12.50", "-0.02", "1200" (JPY): the amount in the currency's decimal digits, no symbol.
    public static func money(_ amount: Int64, currency: String) -> String {
        let digits = Price.minorUnitDigits(currency)
        let magnitude = amount.magnitude
        var scale: UInt64 = 1
        for _ in 0..<digits { scale *= 10 }
        let whole = String(magnitude / scale)
        let sign = amount < 0 ? "-" : ""
        guard digits > 0 else { return sign + whole }
        let fraction = String(magnitude % scale)
        return sign + whole + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
}
