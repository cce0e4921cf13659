import Platform
import Replication

/// Who a cart or wishlist belongs to, read from its id: the id says it, so every node of the
/// region can check access without looking anything up, and a signed-in shopper's cart is found
/// on any node by their customer id alone.
public enum CartOwner: Equatable, Sendable {
    /// `guest-<32 hex>`: whoever holds the id (a secret, 128 random bits) may use it.
    case guest
    /// `cart-<customer id>`.
    case customer(String)
    /// `wish-<customer id>`: a wishlist, lines of quantity 1.
    case wishlist(String)

    public static let guestPrefix = "guest-", customerPrefix = "cart-", wishlistPrefix = "wish-"

    public init?(cartId id: String) {
        if id.hasPrefix(Self.guestPrefix) {
            let secret = id.utf8.dropFirst(Self.guestPrefix.utf8.count)
            guard secret.count == 32, secret.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
            self = .guest
        } else if id.hasPrefix(Self.customerPrefix), id.utf8.count > Self.customerPrefix.utf8.count {
            self = .customer(String(id.dropFirst(Self.customerPrefix.count)))
        } else if id.hasPrefix(Self.wishlistPrefix), id.utf8.count > Self.wishlistPrefix.utf8.count {
            self = .wishlist(String(id.dropFirst(Self.wishlistPrefix.count)))
        } else {
            return nil
        }
    }

    public static func newGuestCartId() -> String { guestPrefix + Hex.encode(SecureRandom.bytes(16)) }
    public static func cartId(customer: String) -> String { customerPrefix + customer }
    public static func wishlistId(customer: String) -> String { wishlistPrefix + customer }
}

/// One line of a cart: a SKU, how many, and the unit price the shopper saw when adding it.
public struct CartLine: Equatable, Sendable {
    public var sku: String
    public var quantity: Int64
    /// Minor units of the region's currency when the line was last set; nil if another node's
    /// concurrent removal took it (then the line is priced now and shown as changed).
    public var unitPriceAtAdd: Int64?

    public init(sku: String, quantity: Int64, unitPriceAtAdd: Int64?) {
        self.sku = sku
        self.quantity = quantity
        self.unitPriceAtAdd = unitPriceAtAdd
    }
}

/// A cart as the `carts` collection replicates it: an observed-remove map whose keys are
/// `q/<sku>` (quantity) and `p/<sku>` (unit price at add time), each a last-writer-wins register.
/// A line's two keys are written and removed in one delta; an add on one node racing a removal on
/// another keeps the line (add wins), the same as for any key of an OR-map.
public enum CartContents {
    public typealias State = ORMap<String, LWWRegister<Int64>>

    public static let linesMax = 100
    public static let quantityMax: Int64 = 999

    public static func lines(of state: State) -> [CartLine] {
        var lines: [CartLine] = []
        for key in state.keys where key.hasPrefix("q/") {
            // Values come from any node of the region: out of range, a line is not a line and a
            // price is no price (priced now), so no total can overflow.
            guard let quantity = state[key]?.value, (1...quantityMax).contains(quantity) else { continue }
            let sku = String(key.dropFirst(2))
            let price = state["p/" + sku]?.value.flatMap { (0...Price.amountMax).contains($0) ? $0 : nil }
            lines.append(CartLine(sku: sku, quantity: quantity, unitPriceAtAdd: price))
        }
        return lines.sorted { $0.sku < $1.sku }
    }

    /// Sets lines (quantity and the price now) and removes others, as one delta.
    public static func change(_ state: inout State, setting lines: [CartLine], removing removed: [String], removingCode: Bool = false,
                              replica: ReplicaID, at timestamp: HLCTimestamp) -> State {
        var changes: [(key: String, mutate: (inout LWWRegister<Int64>) -> LWWRegister<Int64>)] = []
        for line in lines {
            changes.append(("q/" + line.sku, { $0.set(line.quantity, at: timestamp) }))
            if let price = line.unitPriceAtAdd { changes.append(("p/" + line.sku, { $0.set(price, at: timestamp) })) }
        }
        let present = state.keys
        let removing = removed.flatMap { ["q/" + $0, "p/" + $0] }.filter(present.contains) + (removingCode ? present.filter { $0.hasPrefix("c/") } : [])
        return state.update(changes, removing: removing, replica: replica)
    }

    /// The discount code applied to the cart (`c/<CODE>`). One per cart: applying one removes
    /// the others; should two nodes apply different codes at once, the first alphabetically is
    /// the cart's on every node.
    public static func code(of state: State) -> String? {
        state.keys.filter { $0.hasPrefix("c/") && (state[$0]?.value ?? 0) > 0 }.map { String($0.dropFirst(2)) }.min()
    }

    /// Applies `code` (nil: removes the cart's code), as one delta.
    public static func settingCode(_ state: inout State, _ code: String?, replica: ReplicaID, at timestamp: HLCTimestamp) -> State {
        let key = code.map { "c/" + $0 }
        let changes: [(key: String, mutate: (inout LWWRegister<Int64>) -> LWWRegister<Int64>)] = key.map { [($0, { $0.set(1, at: timestamp) })] } ?? []
        return state.update(changes, removing: state.keys.filter { $0.hasPrefix("c/") && $0 != key }, replica: replica)
    }

    /// Merging a guest cart into a customer's on sign-in: a SKU in both keeps the larger
    /// quantity (the same shopper adding the same thing twice did not mean two of it) and the
    /// price the shopper saw last.
    public static func merged(_ guest: [CartLine], into mine: [CartLine]) -> [CartLine] {
        var result = Dictionary(uniqueKeysWithValues: mine.map { ($0.sku, $0) })
        for line in guest {
            if let existing = result[line.sku] {
                if line.quantity > existing.quantity { result[line.sku] = line }
            } else {
                result[line.sku] = line
            }
        }
        return result.values.sorted { $0.sku < $1.sku }
    }
}
