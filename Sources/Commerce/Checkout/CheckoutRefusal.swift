/// Why a checkout is refused before its sale is reserved (what a sale may be refused for
/// besides is a `SaleRefusal`).
public enum CheckoutRefusal: Error, Equatable {
    /// The Idempotency-Key was used for a checkout with another body.
    case keyReused
    /// A checkout with this key is being answered now: its retry gets the answer.
    case inProgress
    /// A wishlist holds lines to buy later; it is not checked out.
    case wishlist
    /// The checkout was answered with an order this node no longer finds.
    case orderMissing
}
