import HTTP

/// Every problem type the node's routes answer with beyond the HTTP layer's own, in one place:
/// the `type` URIs are a public contract (clients switch on them; docs/problems.md lists them),
/// so a new one is added here, to `problemCatalog`, and to the docs together.
extension ProblemType {
    // MARK: - Carts and stock

    public static let insufficientStock = ProblemType(slug: "insufficient-stock", title: "Not enough stock", status: 409,
        explanation: "Fewer units are available than asked. `available` says how many the fleet holds, `available_here` how many this node may sell now. A checkout waits up to 2 s for rights a connected node holds; with Retry-After, more may still come: retry then.")
    public static let itemUnavailable = ProblemType(slug: "item-unavailable", title: "Item unavailable", status: 409,
        explanation: "The SKU is not sold here now: unknown, its product is not active, or it has no price in this region.")

    // MARK: - Checkout

    public static let idempotencyKeyRequired = ProblemType(slug: "idempotency-key-required", title: "Idempotency-Key required", status: 400,
        explanation: "Requests that create orders or move money need an `Idempotency-Key` header (1 to 255 visible ASCII characters, a UUID is usual); retrying with the same key never pays twice.")
    public static let idempotencyKeyReused = ProblemType(slug: "idempotency-key-reused", title: "Idempotency-Key reused", status: 409,
        explanation: "This Idempotency-Key was used for a request with a different body. Use a new key for a new request.")
    public static let checkoutInProgress = ProblemType(slug: "checkout-in-progress", title: "Checkout in progress", status: 409,
        explanation: "A checkout with this Idempotency-Key is still being answered; retry after Retry-After seconds to get its answer.")
    public static let cartEmpty = ProblemType(slug: "cart-empty", title: "Cart empty", status: 422,
        explanation: "There is nothing in the cart to check out.")
    public static let priceChanged = ProblemType(slug: "price-changed", title: "Price changed", status: 409,
        explanation: "A price changed since the line was added. `lines` lists them with both prices; accept them (POST /api/v1/carts/{id}/accept-prices) and check out again.")
    public static let offlinePaymentRefused = ProblemType(slug: "offline-payment-refused", title: "Card payment refused offline", status: 402,
        explanation: "The payment network is unreachable from this store and the card payment is beyond what the store may take offline (`reason`: over_floor_limit, exposure_cap_reached). Nothing was charged and no stock is held; pay another way, or try again when the store is back online.")
    public static let paymentDeclined = ProblemType(slug: "payment-declined", title: "Payment declined", status: 402,
        explanation: "The card was declined (`reason`: insufficient_funds, stolen_card, expired_card, invalid_token, amount_too_large). Nothing was charged and no stock is held; try another card with a new Idempotency-Key.")

    // MARK: - Reviews

    public static let reviewNotAllowed = ProblemType(slug: "review-not-allowed", title: "Only buyers review", status: 403,
        explanation: "Only a customer with a paid order of the product (not cancelled) may review it. Sign in with the account that bought it.")
    public static let reviewExists = ProblemType(slug: "review-exists", title: "Already reviewed", status: 409,
        explanation: "A customer reviews a product once; this one has a review from this account already.")

    // MARK: - Orders

    public static let orderTransition = ProblemType(slug: "order-transition", title: "Not allowed in the order's status", status: 409,
        explanation: "The order's current status (`status`) does not allow this event: see docs/orders.md for which event may follow which.")
    public static let paymentActionFailed = ProblemType(slug: "payment-action-failed", title: "The acquirer refused", status: 409,
        explanation: "The acquirer refused a capture, void or refund (or did not answer); the order is unchanged. `detail` says what it answered.")

    // MARK: - Payments

    public static let acquirerUnreachable = ProblemType(slug: "acquirer-unreachable", title: "The acquirer cannot be reached", status: 503,
        explanation: "A tender that replaces a declined payment must be authorized by the acquirer now, and this node cannot reach it (the hub is out of reach, or the acquirer did not answer). Nothing was charged; try again once online, or cancel the order.")

    // MARK: - Returns

    public static let returnRefused = ProblemType(slug: "return-refused", title: "Return refused", status: 422,
        explanation: "The return cannot be asked for (`reason`: window_closed, not_returnable, exchange_unavailable, exchange_price_differs). `detail` says which line and why; nothing was recorded.")
    public static let returnTransition = ProblemType(slug: "return-transition", title: "Not allowed in the return's status", status: 409,
        explanation: "The return's current status (`return_status`) does not allow this step: requested → approved or rejected; approved → received; received → refunded (docs/returns.md).")

    // MARK: - Shipping

    public static let shippingMethodExists = ProblemType(slug: "shipping-method-exists", title: "Shipping method exists", status: 409,
        explanation: "A shipping method with this id exists already. Its rates do not change once created: retire it and create another.")
    public static let shippingMethodUnavailable = ProblemType(slug: "shipping-method-unavailable", title: "Shipping method not offered", status: 422,
        explanation: "The chosen shipping method is not offered for this address and cart (another country, too heavy, retired, or unknown). `offered` lists the ids that are; GET /api/v1/carts/{id}/shipping-options shows them with fees.")

    // MARK: - Promotions and discount codes

    public static let promotionExists = ProblemType(slug: "promotion-exists", title: "Promotion exists", status: 409,
        explanation: "A promotion with this id exists already. A promotion's rules do not change once created: retire it and create another.")
    public static let promotionCodeTaken = ProblemType(slug: "promotion-code-taken", title: "Promotion code taken", status: 409,
        explanation: "Another promotion that is not retired has this code; codes are unique, without regard to case.")
    public static let promotionRetired = ProblemType(slug: "promotion-retired", title: "Promotion retired", status: 409,
        explanation: "A retired promotion is final: it cannot be paused or resumed.")
    public static let discountCodeRefused = ProblemType(slug: "discount-code-refused", title: "Discount code refused", status: 422,
        explanation: "The code cannot be applied (`reason`: unknown, not_active, not_started, expired). Nothing changed in the cart.")
    public static let discountCodeNotApplicable = ProblemType(slug: "discount-code-not-applicable", title: "Discount code does not apply", status: 409,
        explanation: "The cart's code does not apply to this order (`reason`: as for discount-code-refused, or other_currency, minimum_spend, no_eligible_items, sign_in_required, customer_limit). Remove it (DELETE /api/v1/carts/{id}/discount-code) or change the cart, then check out again.")
    public static let discountCodeThrottled = ProblemType(slug: "discount-code-throttled", title: "Too many wrong discount codes", status: 429,
        explanation: "Too many codes that do not exist (or are not live) were tried on this cart or from this address: wait `Retry-After` seconds. Codes cannot be found by guessing.")
    public static let discountCodeExhausted = ProblemType(slug: "discount-code-exhausted", title: "Discount code used up", status: 409,
        explanation: "The code's redemptions are used up fleet-wide, or this node holds none now and cannot reach a node that does. With Retry-After, try again shortly; otherwise remove the code.")

    // MARK: - Catalog

    public static let productExists = ProblemType(slug: "product-exists", title: "Product exists", status: 409,
        explanation: "A product with this id exists already; change it with PATCH /admin/v1/catalog/products/{id}.")

    // MARK: - Customers

    public static let emailTaken = ProblemType(slug: "email-taken", title: "Email taken", status: 409,
        explanation: "An account with this email exists in this region; sign in instead.")
    public static let signInFailed = ProblemType(slug: "sign-in-failed", title: "Sign-in failed", status: 401,
        explanation: "The email and password do not match an account (which of the two is not said).")
    public static let signInThrottled = ProblemType(slug: "sign-in-throttled", title: "Too many sign-in attempts", status: 429,
        explanation: "Too many failed sign-ins for this account from this address, for this account from anywhere (at most a 30 s wait: nobody can lock another's account), or from this address; try again after Retry-After seconds.")
    public static let refreshRefused = ProblemType(slug: "refresh-refused", title: "Refresh refused", status: 401,
        explanation: "The refresh token is unknown, expired or signed out, or was used before (then its whole session is revoked); sign in again.")

    // MARK: - Accounts

    public static let resetRefused = ProblemType(slug: "reset-refused", title: "Reset refused", status: 400,
        explanation: "The password reset token is unknown, expired or used; ask for a new one.")
    public static let passwordWrong = ProblemType(slug: "password-wrong", title: "Password wrong", status: 403,
        explanation: "The current password given does not match; nothing was changed.")

    // MARK: - Tills and staff

    public static let pairingCodeRefused = ProblemType(slug: "pairing-code-refused", title: "Pairing code refused", status: 401,
        explanation: "The pairing code is unknown, used already or expired. A store manager makes a new one (`nodectl pos pair`); each pairs one device within 15 minutes.")
    public static let pinRefused = ProblemType(slug: "pin-refused", title: "Staff id or PIN refused", status: 401,
        explanation: "No active staff member of this store has this id and PIN. After 3 failures on a till each try there waits longer; after 5 the staff member is locked out on that till for 15 minutes (`pin-locked`). Failures across all tills slow a staff member's tries by at most 30 s and never lock them out.")
    public static let pinLocked = ProblemType(slug: "pin-locked", title: "Too many wrong PINs", status: 429,
        explanation: "Wrong PINs were entered too often for this staff member on this till (or on this till for anyone): wait `Retry-After` seconds. After 5 failures on one till the lockout there lasts 15 minutes; a manager can set a new PIN meanwhile, which ends it.")
    public static let approvalRequired = ProblemType(slug: "approval-required", title: "A manager's approval is required", status: 403,
        explanation: "The action (`action`: price_override, discount_over_limit, no_sale, refund_without_receipt, card_over_floor_limit) needs a store manager: send \"approval\": {\"staff\": id, \"pin\": PIN} of a manager, or have a manager sign in. What was approved, and by whom, is recorded.")

    // MARK: - Till sales

    public static let noOpenShift = ProblemType(slug: "no-open-shift", title: "No open shift on this till", status: 409,
        explanation: "Sales, returns and cash movements belong to a shift: open one with POST /pos/v1/shifts (with the float) first.")
    public static let saleState = ProblemType(slug: "sale-state", title: "Not allowed in the sale's state", status: 409,
        explanation: "The sale (`state`: open, completing, completed, voided) does not allow this: a completed sale is returned, not changed; a voided one is gone; a completing one is being answered (retry after `Retry-After`). A completion retried with other tenders than the first is refused too.")
    public static let tendersRefused = ProblemType(slug: "tenders-refused", title: "Tenders do not pay the sale", status: 422,
        explanation: "The tenders do not add up to the sale's total, or one is malformed (`field` names it): cash needs `tendered`, a card the reader's token and, for a split, its amount.")

    // MARK: - Shifts

    public static let shiftState = ProblemType(slug: "shift-state", title: "Not allowed in the shift's state", status: 409,
        explanation: "A till has one open shift at a time: open one when none is open; cash movements and sales need it open; a closed shift answers its Z-report again for the same count, and refuses another. `detail` says which.")

    // MARK: - Ledger

    public static let notTheHub = ProblemType(slug: "not-the-hub", title: "Not the hub", status: 409,
        explanation: "The ledger, settlement and the offline payment policies are kept by the fleet's hub; ask the hub (`hub` names it when this node knows it).")
    public static let acquirerReportMalformed = ProblemType(slug: "acquirer-report-malformed", title: "Acquirer report malformed", status: 422,
        explanation: "The acquirer's settlement report is not CSV with the columns settled_at,payment_id,reference,kind,currency,gross,fee,net; `line` names the first bad line. Nothing was compared.")

    // MARK: - Ledger checkpoints

    public static let checkpointsMalformed = ProblemType(slug: "checkpoints-malformed", title: "Checkpoints malformed", status: 422,
        explanation: "The body is not ledger checkpoints, one per line as `nodectl ledger checkpoints` exports them; `line` names the first bad line. Nothing was verified.")

    // MARK: - Fleet peers

    public static let syncDisabled = ProblemType(slug: "sync-disabled", title: "Replication is not set up", status: 409,
        explanation: "This node has no fleet certificate, so it cannot have sync peers. Enroll it (nodectl enroll) and restart it.")
    public static let peerFromConfig = ProblemType(slug: "peer-from-config", title: "Peer comes from the configuration", status: 409,
        explanation: "The peer is listed in the node's configuration file; remove it there and restart the node.")

    // MARK: - Firmware

    public static let firmwareFetchRefused = ProblemType(slug: "firmware-fetch-refused", title: "Firmware fetch refused", status: 409,
        explanation: "The node did not start fetching the bundle. `reason` says why: not_offered (the hub does not offer that version; GET /admin/v1/firmware lists what it does), hub_unreachable (no sync link to the hub is up), busy (another fetch is under way), no_room (the disk would keep less than 256 MiB free). Nothing was written.")

    // MARK: - Backups

    public static let backupRefused = ProblemType(slug: "backup-refused", title: "Backup not started", status: 409,
        explanation: "No full backup was started. `reason`: not_configured (the node has no [backup] directory and key_file; docs/backups.md) or running (a full backup is under way: GET /admin/v1/backups follows it).")

    // MARK: - Replication

    public static let insufficientRights = ProblemType(slug: "insufficient-rights", title: "Insufficient stock rights", status: 409,
        explanation: "This node holds fewer rights to sell or move this stock than asked; it may ask other nodes for a transfer. `available` says how many it holds.")

    // MARK: - Storage

    public static let storageUnavailable = ProblemType(slug: "storage-unavailable", title: "The node cannot write now", status: 503,
        explanation: "The node's disk is full (`reason`: disk_full) or failed (`reason`: storage_failed), so it takes no writes; reads still work. Or another process held its database past the busy timeout (`reason`: busy: a backup or an operator's sqlite3; the node itself goes on). Or it was restored from a backup and is catching up with its peers (`reason`: catching_up; docs/backups.md). Nothing of this request was kept. Retry after `Retry-After` seconds; a request with an Idempotency-Key is safe to send again (docs/operations.md).")
}

extension OutpostNode {
    /// Every problem type this node answers with.
    public static let problemCatalog: [ProblemType] = ProblemType.httpCatalog + [.insufficientRights, .syncDisabled, .peerFromConfig, .productExists,
                                                                                       .emailTaken, .signInFailed, .signInThrottled, .refreshRefused,
                                                                                       .resetRefused, .passwordWrong,
                                                                                       .insufficientStock, .itemUnavailable, .idempotencyKeyRequired,
                                                                                       .idempotencyKeyReused, .checkoutInProgress, .cartEmpty, .priceChanged,
                                                                                       .paymentDeclined, .acquirerUnreachable, .orderTransition, .paymentActionFailed,
                                                                                       .offlinePaymentRefused, .notTheHub, .acquirerReportMalformed,
                                                                                       .returnRefused, .returnTransition, .pairingCodeRefused, .pinRefused,
                                                                                       .pinLocked, .approvalRequired, .noOpenShift, .saleState,
                                                                                       .tendersRefused, .shiftState, .promotionExists, .promotionCodeTaken,
                                                                                       .promotionRetired, .discountCodeRefused, .discountCodeNotApplicable,
                                                                                       .discountCodeExhausted, .discountCodeThrottled,
                                                                                       .shippingMethodExists, .shippingMethodUnavailable, .checkpointsMalformed,
                                                                                       .storageUnavailable, .firmwareFetchRefused, .backupRefused,
                                                                                       .reviewNotAllowed, .reviewExists]
}
