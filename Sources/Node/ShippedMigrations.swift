/// The SQL of shipped migrations that once took part of their text from constants elsewhere
/// (a table's schema in Commerce or Ledger, the catalog's search index): frozen here as text, so
/// that editing those constants can never change what a shipped migration applies (the
/// migrator would refuse every database made before). `NodeSchemaTests` checks every shipped
/// migration's checksum.
enum ShippedMigrations {
    /// Version 5.
    static let catalogViewAndSearchIndex = #"""
        CREATE TABLE catalog_products (
            rowid INTEGER PRIMARY KEY,      -- also the search index's rowid
            id TEXT NOT NULL UNIQUE,        -- product id
            status TEXT NOT NULL,           -- draft, active, archived
            category TEXT,                  -- category id
            featured INTEGER NOT NULL,
            created_ms INTEGER NOT NULL,
            sort_name TEXT NOT NULL,        -- name in the region's locale, folded: the name sort
            price INTEGER,                  -- cheapest price in this node's region, minor units
            currency TEXT                   -- of that price
        ) STRICT;
        CREATE INDEX catalog_products_category ON catalog_products(status, category);
        CREATE INDEX catalog_products_price ON catalog_products(status, price);
        CREATE INDEX catalog_products_created ON catalog_products(status, created_ms);
        CREATE INDEX catalog_products_name ON catalog_products(status, sort_name);
        CREATE TABLE catalog_variants (
            sku TEXT PRIMARY KEY,
            product INTEGER NOT NULL,       -- catalog_products.rowid
            barcode TEXT                    -- 13 digits (a UPC-A with its leading 0)
        ) STRICT;
        CREATE INDEX catalog_variants_product ON catalog_variants(product);
        CREATE INDEX catalog_variants_barcode ON catalog_variants(barcode) WHERE barcode IS NOT NULL;
        CREATE TABLE catalog_attributes (
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            product INTEGER NOT NULL,       -- catalog_products.rowid
            PRIMARY KEY (name, value, product)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX catalog_attributes_product ON catalog_attributes(product);
        CREATE TABLE stock_levels (
            sku TEXT NOT NULL,
            location TEXT NOT NULL,
            available INTEGER NOT NULL,     -- the bounded counter's value: units anywhere in the fleet
            rights_here INTEGER NOT NULL,   -- units this node may sell itself
            PRIMARY KEY (sku, location)
        ) STRICT, WITHOUT ROWID;
        -- Every locale's names and descriptions, SKUs and barcodes, attribute values; diacritics
        -- folded, so "creme" finds "Crème". (Rebuilt without prefix indexes by `searchWithoutPrefixes`.)
        CREATE VIRTUAL TABLE catalog_search USING fts5(
            name, description, codes, attributes,
            tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
        );
        CREATE VIRTUAL TABLE catalog_search_terms USING fts5vocab(catalog_search, 'row');
        """#

    /// Version 7.
    static let searchIndexWithoutPrefixIndexes = #"""
        CREATE VIRTUAL TABLE catalog_search_7 USING fts5(
            name, description, codes, attributes,
            tokenize = 'unicode61 remove_diacritics 2'
        );
        INSERT INTO catalog_search_7(rowid, name, description, codes, attributes)
            SELECT rowid, name, description, codes, attributes FROM catalog_search;
        DROP TABLE catalog_search_terms;
        DROP TABLE catalog_search;
        ALTER TABLE catalog_search_7 RENAME TO catalog_search;
        """#

    /// Version 8.
    static let checkoutsOrdersViewStockMovementsSandboxAcquirer = #"""
        -- One row per Idempotency-Key of a cart: the ids made before the acquirer was called,
        -- the stock taken, and once answered what the answer was (replayed for the same key).
        CREATE TABLE checkouts (
            cart TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            request_hash TEXT NOT NULL,     -- SHA-256 (hex) of the request body
            order_id TEXT NOT NULL,
            number TEXT NOT NULL,           -- human-readable order number
            payment_id TEXT NOT NULL,
            state TEXT NOT NULL,            -- authorizing, answered, abandoned (a crash while authorizing)
            allocations TEXT NOT NULL,      -- JSON: [{sku, location, units}] taken from stock
            status INTEGER,                 -- the answer's HTTP status
            response BLOB,                  -- a refusal's body (an order's answer is made again from the order:
                                            -- it holds personal data, which erasure must be able to remove)
            order_token TEXT,               -- a guest order's access token, for the answer made again
            created_ms INTEGER NOT NULL,
            PRIMARY KEY (cart, idempotency_key)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX checkouts_authorizing ON checkouts(state) WHERE state = 'authorizing';
        -- Orders as the fold of their events (the orders collection), for history and search.
        CREATE TABLE orders_view (
            id TEXT PRIMARY KEY,
            number TEXT,
            customer TEXT,
            node TEXT,
            status TEXT NOT NULL,
            placed_ms INTEGER,
            total INTEGER,
            currency TEXT,
            reserved_until_ms INTEGER,      -- set while an unpaid order holds stock
            cancellation_raced INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE INDEX orders_by_customer ON orders_view(customer, placed_ms);
        CREATE INDEX orders_by_placed ON orders_view(placed_ms);
        CREATE INDEX orders_reserved ON orders_view(reserved_until_ms) WHERE reserved_until_ms IS NOT NULL;
        -- Every change of stock this node made, with its reason: the audit trail of receipts,
        -- adjustments, transfers, sales and releases.
        CREATE TABLE stock_movements (
            id INTEGER PRIMARY KEY,
            at_ms INTEGER NOT NULL,
            sku TEXT NOT NULL,
            location TEXT NOT NULL,
            units INTEGER NOT NULL,         -- signed: + in, - out
            reason TEXT NOT NULL,
            reference TEXT,                 -- order id, transfer peer location
            note TEXT,
            actor TEXT                      -- token subject, or 'admin'
        ) STRICT;
        CREATE INDEX stock_movements_by_sku ON stock_movements(sku, at_ms);
        CREATE TABLE sandbox_acquirer (
            payment_id TEXT PRIMARY KEY,
            token TEXT NOT NULL,            -- the card's token, never a card number
            currency TEXT NOT NULL,
            authorized INTEGER NOT NULL,    -- minor units held
            captured INTEGER NOT NULL,
            refunded INTEGER NOT NULL,
            state TEXT NOT NULL,            -- retry_asked, authorized, declined, voided
            code TEXT NOT NULL              -- authorization code, or the decline reason
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE sandbox_refunds (
            refund_id TEXT PRIMARY KEY,
            payment_id TEXT NOT NULL,
            amount INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        """#

    /// Version 10.
    static let ledgerSettlementQueueOfflinePaymentsAcquirerSettlements = #"""
        CREATE TABLE ledger_accounts (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            currency TEXT NOT NULL,
            debits_must_not_exceed_credits INTEGER NOT NULL DEFAULT 0,
            debits_pending INTEGER NOT NULL DEFAULT 0,
            debits_posted INTEGER NOT NULL DEFAULT 0,
            credits_pending INTEGER NOT NULL DEFAULT 0,
            credits_posted INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        -- One row per transfer, in order: seq is gapless from 1, hash chains each entry to the one before.
        CREATE TABLE ledger_journal (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,        -- from the event that caused it: a replay finds it
            kind TEXT NOT NULL,             -- posted, pending, post, void, expire
            debit TEXT NOT NULL,
            credit TEXT NOT NULL,
            amount INTEGER NOT NULL,
            currency TEXT NOT NULL,
            pending_id TEXT,                -- post, void, expire: the pending transfer they close
            timeout_ms INTEGER,             -- pending: when it expires
            code TEXT NOT NULL,
            reference TEXT,
            at_ms INTEGER NOT NULL,
            hash BLOB NOT NULL              -- SHA-256, 32 bytes
        ) STRICT;
        CREATE UNIQUE INDEX ledger_closing ON ledger_journal(pending_id) WHERE pending_id IS NOT NULL;
        CREATE INDEX ledger_timeouts ON ledger_journal(timeout_ms) WHERE timeout_ms IS NOT NULL;
        CREATE TRIGGER ledger_journal_no_update BEFORE UPDATE ON ledger_journal BEGIN SELECT RAISE(ABORT, 'the ledger journal is append-only'); END;
        CREATE TRIGGER ledger_journal_no_delete BEFORE DELETE ON ledger_journal BEGIN SELECT RAISE(ABORT, 'the ledger journal is append-only'); END;
        -- Hub: payments whose events changed since settlement last looked at them. A row goes
        -- in the transaction that changed the payment and out in the one that settled it.
        CREATE TABLE settlement_queue (
            payment_id TEXT PRIMARY KEY,
            due_ms INTEGER NOT NULL,
            generation INTEGER NOT NULL,   -- raised by each change: a pass removes only the row it read
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX settlement_queue_by_due ON settlement_queue(due_ms);
        -- Card payments this node took while the hub was unreachable, until the hub answers.
        CREATE TABLE offline_payments (
            payment_id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL,
            currency TEXT NOT NULL,
            amount INTEGER NOT NULL,
            taken_ms INTEGER NOT NULL,
            deadline_ms INTEGER NOT NULL,
            answered_ms INTEGER,           -- when the hub's authorization or decline arrived
            outcome TEXT                   -- authorized, declined, voided
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX offline_payments_open ON offline_payments(deadline_ms) WHERE answered_ms IS NULL;
        CREATE TABLE sandbox_settlements (
            payment_id TEXT NOT NULL,
            ref TEXT NOT NULL,              -- sale, or the refund's id
            kind TEXT NOT NULL,             -- sale, refund
            currency TEXT NOT NULL,
            amount INTEGER NOT NULL,        -- minor units
            fee INTEGER NOT NULL,
            settled_ms INTEGER NOT NULL,
            PRIMARY KEY (payment_id, ref)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX sandbox_settlements_by_time ON sandbox_settlements(settled_ms);
        """#
}
