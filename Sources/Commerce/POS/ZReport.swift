import Platform

/// The end of a till's shift: what it sold and paid back, by tender, and the cash it should hold
/// against the cash counted. Each device's reports form a chain: a report carries the hash of
/// the one before (`previousHash`), and its own hash covers that and every figure, so a report
/// altered or left out later shows. Reports replicate to the hub, which anchors each in its
/// ledger journal as a checkpoint.
public struct ZReport: Equatable, Sendable {
    public var node: String
    /// The node's region: its books are that region's.
    public var region: String
    public var device: String
    public var shift: String
    /// 1, 2, 3... per device.
    public var seq: Int64
    /// Hex SHA-256 of the device's report before (64 zeros before the first).
    public var previousHash: String
    public var openedMs: Int64
    public var closedMs: Int64
    public var openedBy: String
    public var closedBy: String
    public var currency: String
    public var float: Int64
    public var sales: Int64 = 0
    /// Per tender (cash, card): what sales took.
    public var salesByTender: [String: Int64] = [:]
    public var returns: Int64 = 0
    public var refundsByTender: [String: Int64] = [:]
    public var discounts: Int64 = 0
    public var taxes: Int64 = 0
    public var rounding: Int64 = 0
    public var cashIn: Int64 = 0
    public var cashOut: Int64 = 0
    public var noSales: Int64 = 0
    public var voidedSales: Int64 = 0
    public var counted: Int64 = 0

    public static let firstPreviousHash = String(repeating: "0", count: 64)

    public init(node: String, region: String, device: String, shift: String, seq: Int64, previousHash: String, openedMs: Int64, closedMs: Int64, openedBy: String,
                closedBy: String, currency: String, float: Int64) {
        self.node = node
        self.region = region
        self.device = device
        self.shift = shift
        self.seq = seq
        self.previousHash = previousHash
        self.openedMs = openedMs
        self.closedMs = closedMs
        self.openedBy = openedBy
        self.closedBy = closedBy
        self.currency = currency
        self.float = float
    }

    /// The cash the drawer should hold: the float, cash taken, less cash paid back, plus paid-ins, less paid-outs.
    public var expectedCash: Int64 {
        float + (salesByTender["cash"] ?? 0) - (refundsByTender["cash"] ?? 0) + cashIn - cashOut
    }

    /// Counted less expected: positive over, negative short.
    public var variance: Int64 { counted - expectedCash }

    /// The key of the replicated collection that holds a device's reports.
    public var key: String { Self.key(node: node, device: device) }
    public static func key(node: String, device: String) -> String { node + "/" + device }

    /// Every figure, keys sorted: what the hash covers and what replicates.
    public var canonical: String {
        var json = EventJSONWriter()
        json.int("cash_in", cashIn)
        json.int("cash_out", cashOut)
        json.int("closed_ms", closedMs)
        json.string("closed_by", closedBy)
        json.int("counted", counted)
        json.string("currency", currency)
        json.string("device", device)
        json.int("discounts", discounts)
        json.int("expected_cash", expectedCash)
        json.int("float", float)
        json.string("node", node)
        json.int("no_sales", noSales)
        json.int("opened_ms", openedMs)
        json.string("opened_by", openedBy)
        json.string("previous_hash", previousHash)
        json.objects("refunds_by_tender", refundsByTender.sorted { $0.key < $1.key }, Self.writeTender)
        json.string("region", region)
        json.int("returns", returns)
        json.int("rounding", rounding)
        json.int("sales", sales)
        json.objects("sales_by_tender", salesByTender.sorted { $0.key < $1.key }, Self.writeTender)
        json.int("seq", seq)
        json.string("shift", shift)
        json.int("taxes", taxes)
        json.int("variance", variance)
        json.int("voided_sales", voidedSales)
        return json.text
    }

    private static func writeTender(_ json: inout EventJSONWriter, _ pair: (key: String, value: Int64)) {
        json.int("amount", pair.value)
        json.string("tender", pair.key)
    }

    /// Hex SHA-256 of the previous hash's bytes and the canonical text.
    public var hash: String {
        Hex.encode(SHA256.hash((Hex.decode(previousHash) ?? []) + Array(canonical.utf8)))
    }

    /// What the collection holds: the canonical figures and the hash, one string.
    public var text: String { hash + " " + canonical }

    public init?(text: String) {
        guard let space = text.firstIndex(of: " ") else { return nil }
        let claimed = String(text[..<space])
        guard let json = EventJSONReader(String(text[text.index(after: space)...])), let node = json.string("node"), let device = json.string("device"),
              let shift = json.string("shift"), let seq = json.int("seq"), let previous = json.string("previous_hash"), let opened = json.int("opened_ms"),
              let closed = json.int("closed_ms"), let currency = json.string("currency"), let float = json.int("float") else { return nil }
        self.init(node: node, region: json.string("region") ?? "unknown", device: device, shift: shift, seq: seq, previousHash: previous, openedMs: opened, closedMs: closed,
                  openedBy: json.string("opened_by") ?? "", closedBy: json.string("closed_by") ?? "", currency: currency, float: float)
        sales = json.int("sales") ?? 0
        returns = json.int("returns") ?? 0
        discounts = json.int("discounts") ?? 0
        taxes = json.int("taxes") ?? 0
        rounding = json.int("rounding") ?? 0
        cashIn = json.int("cash_in") ?? 0
        cashOut = json.int("cash_out") ?? 0
        noSales = json.int("no_sales") ?? 0
        voidedSales = json.int("voided_sales") ?? 0
        counted = json.int("counted") ?? 0
        for pair in json.objects("sales_by_tender") ?? [] { if let t = pair.string("tender"), let a = pair.int("amount") { salesByTender[t] = a } }
        for pair in json.objects("refunds_by_tender") ?? [] { if let t = pair.string("tender"), let a = pair.int("amount") { refundsByTender[t] = a } }
        // A report whose figures do not give its hash was altered (or is not one): refused.
        guard claimed == hash else { return nil }
    }

    /// Checks a device's reports as a chain: seq from 1 without gaps, each naming the hash of
    /// the one before. Returns the first break, if any.
    public static func chainBreak(_ reports: [ZReport]) -> String? {
        var previous = firstPreviousHash
        for (index, report) in reports.sorted(by: { $0.seq < $1.seq }).enumerated() {
            guard report.seq == Int64(index + 1) else { return "report \(index + 1) is missing (next is \(report.seq))" }
            guard report.previousHash == previous else { return "report \(report.seq) does not chain to report \(report.seq - 1)" }
            previous = report.hash
        }
        return nil
    }
}
