import Platform

/// Something that happened which the retailer's other systems hear about: one webhook body.
///
/// Its id is made from what happened, not from where or when it was noticed: the same order
/// event gives the same id on every node, in every projection and after every restart, so the
/// outbox keeps it once and a receiver can drop a delivery it already has (docs/notifications.md).
public struct OutboxEvent: Equatable, Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        case orderPlaced = "order.placed"
        case orderPaid = "order.paid"
        case orderFulfilled = "order.fulfilled"
        case orderShipped = "order.shipped"
        case orderDelivered = "order.delivered"
        case orderCancelled = "order.cancelled"
        case orderRefunded = "order.refunded"
        case orderPaymentFailed = "order.payment_failed"
        case returnRequested = "return.requested"
        case returnApproved = "return.approved"
        case returnRejected = "return.rejected"
        case returnReceived = "return.received"
        /// Units at this node's stock location fell to the low-stock mark (5) or below.
        case stockLow = "stock.low"
        /// A card payment taken offline passed its settlement deadline without the hub's answer.
        case paymentOfflineOverdue = "payment.offline_overdue"
        /// The hub: a settlement batch wrote transfers to the journal.
        case settlementBatch = "settlement.batch"
        /// The hub: a reconciliation found a payment where the payments, the journal and the
        /// acquirer's report do not agree.
        case reconciliationDifference = "reconciliation.difference"

        init(_ kind: OrderEvent.Kind) {
            switch kind {
            case .placed: self = .orderPlaced
            case .paid: self = .orderPaid
            case .fulfilled: self = .orderFulfilled
            case .shipped: self = .orderShipped
            case .delivered: self = .orderDelivered
            case .cancelled: self = .orderCancelled
            case .refunded: self = .orderRefunded
            case .paymentFailed: self = .orderPaymentFailed
            case .returnRequested: self = .returnRequested
            case .returnApproved: self = .returnApproved
            case .returnRejected: self = .returnRejected
            case .returnReceived: self = .returnReceived
            }
        }
    }

    /// `evt_` and 32 hex digits.
    public var id: String
    public var kind: Kind
    /// What the event is about: the order, the `sku@location`, the payment.
    public var subject: String
    /// When it happened: the recording node's hybrid-clock milliseconds.
    public var occurredMs: Int64
    /// The `data` member of the body: JSON object text (schema in the OpenAPI document, `WebhookEvent`).
    public var data: String

    public init(id: String, kind: Kind, subject: String, occurredMs: Int64, data: String) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.occurredMs = occurredMs
        self.data = data
    }

    /// The body a receiver gets: members sorted, `sequence` this node's order of the event.
    public func body(sequence: Int64) -> [UInt8] {
        var json = EventJSONWriter()
        json.raw("data", data)
        json.string("id", id)
        json.string("occurred_at", WallClock.iso8601(ms: occurredMs))
        json.int("sequence", sequence)
        json.string("subject", subject)
        json.string("type", kind.rawValue)
        return json.finished
    }
}

/// The events of one order that its webhooks announce.
public enum OrderNotices {
    /// `evt_` and 32 hex digits of SHA-256 over the order's id and the event's canonical text.
    public static func eventId(order: String, text: String) -> String {
        "evt_" + String(SHA256.hex(order + "\u{0}" + text).prefix(32))
    }

    /// One event per order event, in the order's own order. Personal data stays out: the
    /// contact is sealed for the region and the access hash opens the guest's order page.
    public static func events(order: String, state: OrderState) -> [OutboxEvent] {
        guard let placed = state.placed else { return [] }
        return state.events.map { event in
            let id = eventId(order: order, text: event.text)
            var json = EventJSONWriter()
            json.int("amount", event.amount)
            json.string("carrier", event.carrier)
            json.string("currency", placed.totals?.currency)
            json.string("customer", placed.customer)
            json.objects("items", event.items) { json, item in
                json.string("disposition", item.disposition?.rawValue); json.int("quantity", item.quantity)
                json.string("reason", item.reason); json.string("sku", item.sku)
            }
            json.objects("lines", event.kind == .placed ? placed.lines : nil) { json, line in
                json.string("name", line.name); json.string("product_id", line.productId); json.int("quantity", line.quantity)
                json.string("sku", line.sku); json.int("unit_price", line.unitPrice)
            }
            json.string("node", event.node)
            json.string("number", placed.number)
            json.string("order", order)
            json.string("payment", event.payment)
            json.string("reason", event.reason)
            json.string("return", event.returnId)
            json.int("total", event.kind == .placed ? placed.totals?.total : nil)
            json.string("tracking", event.tracking)
            return OutboxEvent(id: id, kind: OutboxEvent.Kind(event.kind), subject: order, occurredMs: event.atMs, data: json.text)
        }
    }
}

/// Events about the shop's operation rather than one order.
public enum OperationNotices {
    /// An event of `kind` about `subject` whose data holds these members (absent when nil); its
    /// id comes from `idSeed`, so the same fact noticed twice is one event.
    public static func event(_ kind: OutboxEvent.Kind, subject: String, idSeed: String, atMs: Int64,
                             strings: [String: String?], ints: [String: Int64?]) -> OutboxEvent {
        var json = EventJSONWriter()
        var members: [(String, Any?)] = strings.map { ($0.key, $0.value) } + ints.map { ($0.key, $0.value) }
        members.sort { $0.0 < $1.0 }
        for (name, value) in members {
            if let text = value as? String { json.string(name, text) } else if let number = value as? Int64 { json.int(name, number) }
        }
        return OutboxEvent(id: "evt_" + String(SHA256.hex(kind.rawValue + "\u{0}" + idSeed).prefix(32)), kind: kind, subject: subject,
                           occurredMs: atMs, data: json.text)
    }

    /// Stock at `location` fell from above `mark` to `available` (at or below it).
    public static func stockLow(sku: String, location: String, available: Int64, mark: Int64, node: String, atMs: Int64) -> OutboxEvent {
        var json = EventJSONWriter()
        json.int("available", available)
        json.string("location", location)
        json.int("mark", mark)
        json.string("node", node)
        json.string("sku", sku)
        let key = sku + "@" + location
        return OutboxEvent(id: "evt_" + String(SHA256.hex(key + "\u{0}stock.low\u{0}\(atMs)").prefix(32)), kind: .stockLow, subject: key, occurredMs: atMs, data: json.text)
    }

    /// One event per overdue payment, whenever it is noticed.
    public static func offlinePaymentOverdue(_ open: OfflinePaymentBook.Open, node: String) -> OutboxEvent {
        var json = EventJSONWriter()
        json.int("amount", open.amount)
        json.string("currency", open.currency)
        json.string("deadline", WallClock.iso8601(ms: open.deadlineMs))
        json.string("node", node)
        json.string("order", open.order)
        json.string("payment", open.payment)
        json.string("taken", WallClock.iso8601(ms: open.takenMs))
        return OutboxEvent(id: "evt_" + String(SHA256.hex(open.payment + "\u{0}payment.offline_overdue").prefix(32)), kind: .paymentOfflineOverdue,
                           subject: open.payment, occurredMs: open.deadlineMs, data: json.text)
    }
}
