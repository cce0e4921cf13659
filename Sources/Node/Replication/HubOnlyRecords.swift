import Commerce
import Replication

/// Records only the hub may write, however they arrive: offline payment policies (`catalog`
/// keys `payment-policy:`), settlements (`settled` payment events), declines of forwarded
/// payments (`payment_failed` order events) and ledger checkpoints. Made anywhere else, they are
/// forged (sync/PROTOCOL.md §5, authority).
enum HubOnlyRecords {
    static func problem(in collection: String, delta: WireDelta, origin: ReplicaID) -> String? {
        switch collection {
        case Collections.ledger.name:
            return "only the hub signs checkpoints of its ledger; \(delta.key) was written by \(origin)"
        case Collections.catalog.name where delta.key.hasPrefix(OfflinePaymentPolicy.keyPrefix):
            return "only the hub sets offline payment policies; \(delta.key) was written by \(origin)"
        case Collections.payments.name:
            guard let events = try? GSet<String>(canonicalBytes: delta.payload) else { return nil }  // the apply refuses it as malformed
            if events.elements.contains(where: { PaymentEvent(text: $0)?.kind == .settled }) {
                return "only the hub settles payments; \(delta.key) has a settlement written by \(origin)"
            }
            return nil
        case Collections.orders.name:
            // Parsed, not searched for: JSON escapes would hide a kind from a substring test.
            guard let events = try? GSet<String>(canonicalBytes: delta.payload) else { return nil }
            if events.elements.contains(where: { OrderEvent(text: $0)?.kind == .paymentFailed }) {
                return "only the hub declines a forwarded payment; \(delta.key) has a payment failure written by \(origin)"
            }
            return nil
        default:
            return nil
        }
    }
}
