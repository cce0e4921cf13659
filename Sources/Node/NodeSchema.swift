import Commerce
import Ledger
import Platform

/// The node database's migrations, in order. Shipped migrations are never edited: the checksum
/// check in `Migrator` refuses to start on an edited one. Add new ones at the end.
public enum NodeSchema {
    public static let migrations: [Migration] = [
        Migration(version: 1, name: "node identity and start log", sql: """
            CREATE TABLE node_meta (
                key TEXT PRIMARY KEY,      -- 'node_id', 'created_at'
                value TEXT NOT NULL
            ) STRICT;
            CREATE TABLE node_starts (
                id INTEGER PRIMARY KEY,    -- one row per start, in order
                started_at TEXT NOT NULL,  -- UTC ISO 8601
                version TEXT NOT NULL,     -- noded version that started
                role TEXT NOT NULL,        -- role it started as
                region TEXT NOT NULL       -- region it started in
            ) STRICT;
            """),
        Migration(version: 2, name: "replicated collections and op log", sql: """
            CREATE TABLE replicated_state (
                collection TEXT NOT NULL,   -- catalog, carts, inventory, orders, payments
                key TEXT NOT NULL,          -- product id, cart id, sku@location, order id...
                state BLOB NOT NULL,        -- canonical encoding of the key's CRDT state
                PRIMARY KEY (collection, key)
            ) STRICT, WITHOUT ROWID;
            CREATE TABLE op_log (
                collection TEXT NOT NULL,
                origin TEXT NOT NULL,       -- node that made the change
                counter INTEGER NOT NULL,   -- the change's dot: origin's 1, 2, 3...
                hlc_ms INTEGER NOT NULL,    -- origin's hybrid clock: physical ms
                hlc_logical INTEGER NOT NULL,
                hlc_node TEXT NOT NULL,
                key TEXT NOT NULL,
                delta BLOB NOT NULL,        -- canonical encoding of the CRDT delta
                PRIMARY KEY (collection, origin, counter)
            ) STRICT, WITHOUT ROWID;
            CREATE TABLE replication_progress (
                collection TEXT NOT NULL,
                origin TEXT NOT NULL,
                applied INTEGER NOT NULL,   -- every change of origin up to here is applied
                compacted INTEGER NOT NULL, -- changes up to here are folded into state, out of op_log
                PRIMARY KEY (collection, origin)
            ) STRICT, WITHOUT ROWID;
            CREATE TABLE peer_acks (
                peer TEXT NOT NULL,         -- node that acknowledged
                collection TEXT NOT NULL,
                origin TEXT NOT NULL,
                counter INTEGER NOT NULL,   -- peer holds origin's changes up to here
                PRIMARY KEY (peer, collection, origin)
            ) STRICT, WITHOUT ROWID;
            """),
        Migration(version: 3, name: "sync peers added at run time", sql: """
            CREATE TABLE sync_peers (
                node_id TEXT PRIMARY KEY,   -- the peer's id: its certificate's CN
                region TEXT NOT NULL,       -- its region: its certificate's OU
                address TEXT NOT NULL,      -- HOST:PORT this node dials
                added_at TEXT NOT NULL      -- UTC ISO 8601
            ) STRICT, WITHOUT ROWID;
            """),
        Migration(version: 4, name: "op log in segments", sql: """
            -- One row per run of one origin's deltas written together (a received frame, a local
            -- write), replacing op_log's row per delta; NodeReplica moves op_log rows here at start.
            -- States in replicated_state may lag these rows: loading merges them in again.
            CREATE TABLE op_log_segments (
                collection TEXT NOT NULL,
                origin TEXT NOT NULL,        -- node that made the changes
                first_counter INTEGER NOT NULL,  -- dots origin:first_counter ...
                last_counter INTEGER NOT NULL,   -- ... through origin:last_counter, no gaps
                deltas BLOB NOT NULL,        -- count, then each delta as DELTAS carries it (sync/PROTOCOL.md)
                PRIMARY KEY (collection, origin, first_counter)
            ) STRICT, WITHOUT ROWID;
            """),
        Migration(version: 5, name: "catalog view and search index", sql: ShippedMigrations.catalogViewAndSearchIndex),
        Migration(version: 6, name: "states and op log segments in rowid tables", sql: """
            -- Rows of about a kilobyte (a product's state, a frame's deltas) overflow the index
            -- b-tree of a WITHOUT ROWID table and tripled its size; a rowid table keeps them whole.
            CREATE TABLE replicated_state_6 (
                collection TEXT NOT NULL,
                key TEXT NOT NULL,
                state BLOB NOT NULL,         -- canonical encoding of the key's CRDT state (may lag op_log_segments)
                UNIQUE (collection, key)
            ) STRICT;
            INSERT INTO replicated_state_6(collection, key, state) SELECT collection, key, state FROM replicated_state;
            DROP TABLE replicated_state;
            ALTER TABLE replicated_state_6 RENAME TO replicated_state;
            CREATE TABLE op_log_segments_6 (
                collection TEXT NOT NULL,
                origin TEXT NOT NULL,
                first_counter INTEGER NOT NULL,
                last_counter INTEGER NOT NULL,
                deltas BLOB NOT NULL,        -- count, then each delta as DELTAS carries it (sync/PROTOCOL.md)
                UNIQUE (collection, origin, first_counter)
            ) STRICT;
            INSERT INTO op_log_segments_6 SELECT collection, origin, first_counter, last_counter, deltas FROM op_log_segments;
            DROP TABLE op_log_segments;
            ALTER TABLE op_log_segments_6 RENAME TO op_log_segments;
            """),
        Migration(version: 7, name: "search index without prefix indexes", sql: ShippedMigrations.searchIndexWithoutPrefixIndexes),
        Migration(version: 8, name: "checkouts, orders view, stock movements, sandbox acquirer", sql: ShippedMigrations.checkoutsOrdersViewStockMovementsSandboxAcquirer),
        Migration(version: 9, name: "promotion redemptions", sql: """
            -- The capped promotion whose redemption a checkout took (given back if it is abandoned).
            ALTER TABLE checkouts ADD COLUMN redemption TEXT;
            -- Orders that used a promotion, from their placed events: redemption counts per node
            -- and fleet-wide, and the per-customer limit.
            CREATE TABLE promotion_redemptions (
                promotion TEXT NOT NULL,
                order_id TEXT NOT NULL,
                code TEXT,
                customer TEXT,
                node TEXT NOT NULL,
                amount INTEGER NOT NULL,        -- minor units off
                placed_ms INTEGER NOT NULL,
                cancelled INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (promotion, order_id)
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX promotion_redemptions_by_customer ON promotion_redemptions(promotion, customer);
            """),
        Migration(version: 10, name: "ledger, settlement queue, offline payments, acquirer settlements", sql: ShippedMigrations.ledgerSettlementQueueOfflinePaymentsAcquirerSettlements),
        Migration(version: 11, name: "store tills: devices, staff, sessions, shifts, sales, returns", sql: """
            -- One-time codes a manager makes for a terminal to pair with; only their hashes are kept.
            CREATE TABLE pos_pairing_codes (
                code_hash TEXT PRIMARY KEY,    -- SHA-256 hex of the code
                name TEXT NOT NULL,            -- the name the paired device gets
                created_by TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                expires_ms INTEGER NOT NULL,
                device TEXT                    -- set when used: a code pairs one device
            ) STRICT, WITHOUT ROWID;
            CREATE TABLE pos_devices (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                credential_hash TEXT NOT NULL UNIQUE,  -- SHA-256 hex of the device key
                paired_ms INTEGER NOT NULL,
                paired_by TEXT NOT NULL,
                revoked_ms INTEGER,
                revoked_by TEXT
            ) STRICT, WITHOUT ROWID;
            -- Who works the tills of this store: cashiers and managers, with a PIN.
            CREATE TABLE pos_staff (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                role TEXT NOT NULL,            -- cashier, store_manager
                pin_hash TEXT NOT NULL,        -- key id, salt and HMAC-SHA256, hex, '$'-separated
                updated_ms INTEGER NOT NULL,
                disabled INTEGER NOT NULL DEFAULT 0
            ) STRICT, WITHOUT ROWID;
            CREATE TABLE pos_sessions (
                token_hash TEXT PRIMARY KEY,   -- SHA-256 hex of the session token
                device TEXT NOT NULL,
                staff TEXT NOT NULL,
                started_ms INTEGER NOT NULL,
                expires_ms INTEGER NOT NULL,
                ended_ms INTEGER
            ) STRICT, WITHOUT ROWID;
            CREATE TABLE pos_shifts (
                id TEXT PRIMARY KEY,           -- made by the terminal
                device TEXT NOT NULL,
                opened_by TEXT NOT NULL,
                opened_ms INTEGER NOT NULL,
                currency TEXT NOT NULL,
                float INTEGER NOT NULL,
                closed_ms INTEGER,
                closed_by TEXT,
                counted INTEGER,
                zreport TEXT                   -- the Z-report's text (hash and figures) once closed
            ) STRICT, WITHOUT ROWID;
            CREATE UNIQUE INDEX pos_shifts_one_open ON pos_shifts(device) WHERE closed_ms IS NULL;
            -- Cash into and out of a drawer besides sales, and no-sale openings.
            CREATE TABLE pos_cash_movements (
                id TEXT PRIMARY KEY,           -- made by the terminal
                shift TEXT NOT NULL,
                kind TEXT NOT NULL,            -- in, out, no_sale
                amount INTEGER NOT NULL,
                reason TEXT,
                staff TEXT NOT NULL,
                approved_by TEXT,
                at_ms INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX pos_cash_movements_by_shift ON pos_cash_movements(shift);
            CREATE TABLE pos_sales (
                id TEXT PRIMARY KEY,           -- made by the terminal: a retry finds its sale
                device TEXT NOT NULL,
                shift TEXT NOT NULL,
                staff TEXT NOT NULL,
                state TEXT NOT NULL,           -- open, completing, completed, voided
                basket TEXT NOT NULL,          -- the basket as last sent (JSON)
                request_hash TEXT,             -- of the completing request
                order_id TEXT,
                number TEXT,
                payments TEXT,                 -- JSON: the tenders with their payment ids
                allocations TEXT,
                currency TEXT,
                total INTEGER,
                tax INTEGER,
                discount INTEGER,
                rounding INTEGER,
                cash INTEGER,                  -- taken in cash (change given back excluded)
                card INTEGER,
                receipt TEXT,                  -- the receipt JSON once completed
                reprints INTEGER NOT NULL DEFAULT 0,
                created_ms INTEGER NOT NULL,
                completed_ms INTEGER
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX pos_sales_by_shift ON pos_sales(shift, state);
            CREATE UNIQUE INDEX pos_sales_by_number ON pos_sales(number) WHERE number IS NOT NULL;
            CREATE TABLE pos_returns (
                id TEXT PRIMARY KEY,           -- made by the terminal
                device TEXT NOT NULL,
                shift TEXT NOT NULL,
                staff TEXT NOT NULL,
                approved_by TEXT,
                order_id TEXT,                 -- nil: a return without a receipt
                request_hash TEXT NOT NULL,
                currency TEXT NOT NULL,
                amount INTEGER NOT NULL,
                tax INTEGER NOT NULL,
                cash INTEGER NOT NULL,
                card INTEGER NOT NULL,
                receipt TEXT NOT NULL,
                at_ms INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX pos_returns_by_shift ON pos_returns(shift);
            """),
        Migration(version: 12, name: "orders owing a declined payment, open orders to pick", sql: """
            -- The few orders a store must act on (another tender, or cancel): found without a scan.
            CREATE INDEX orders_payment_failed ON orders_view(node, placed_ms) WHERE status = 'payment_failed';
            -- The pick list's open orders, oldest first, without a scan of every order.
            CREATE INDEX orders_open ON orders_view(coalesce(placed_ms, -1), id) WHERE status IN ('paid', 'fulfilled', 'partially_shipped');
            """),
        // The continuous backup archive captures changes by primary key (SQLite sessions skip a
        // table without one); UNIQUE becomes PRIMARY KEY, still in rowid tables (migration 6).
        Migration(version: 13, name: "replicated states and op log segments keyed for the backup archive", sql: """
            CREATE TABLE replicated_state_13 (
                collection TEXT NOT NULL,
                key TEXT NOT NULL,
                state BLOB NOT NULL,         -- canonical encoding of the key's CRDT state (may lag op_log_segments)
                PRIMARY KEY (collection, key)
            ) STRICT;
            INSERT INTO replicated_state_13(collection, key, state) SELECT collection, key, state FROM replicated_state;
            DROP TABLE replicated_state;
            ALTER TABLE replicated_state_13 RENAME TO replicated_state;
            CREATE TABLE op_log_segments_13 (
                collection TEXT NOT NULL,
                origin TEXT NOT NULL,
                first_counter INTEGER NOT NULL,
                last_counter INTEGER NOT NULL,
                deltas BLOB NOT NULL,        -- count, then each delta as DELTAS carries it (sync/PROTOCOL.md)
                PRIMARY KEY (collection, origin, first_counter)
            ) STRICT;
            INSERT INTO op_log_segments_13 SELECT collection, origin, first_counter, last_counter, deltas FROM op_log_segments;
            DROP TABLE op_log_segments;
            ALTER TABLE op_log_segments_13 RENAME TO op_log_segments;
            """, olderReleasesCanRun: true),
        // Notifications (docs/notifications.md): events this node owns, written in the transaction
        // that made them, and their delivery to each endpoint subscribed when they were written.
        Migration(version: 14, name: "notification outbox, webhook endpoints and deliveries", sql: """
            CREATE TABLE outbox_events (
                seq INTEGER PRIMARY KEY,       -- this node's order of its events: per-endpoint delivery order
                id TEXT NOT NULL UNIQUE,       -- evt_…: the same event has the same id on every node
                type TEXT NOT NULL,            -- order.placed, order.shipped…
                subject TEXT NOT NULL,         -- the order id
                occurred_ms INTEGER NOT NULL,
                recorded_ms INTEGER NOT NULL,
                data TEXT NOT NULL             -- JSON object text, the body's data
            ) STRICT;
            CREATE TABLE webhook_endpoints (
                id TEXT PRIMARY KEY,           -- we_…
                url TEXT NOT NULL,
                types TEXT NOT NULL,           -- event types, space-separated, or *
                description TEXT NOT NULL,
                secret TEXT NOT NULL,          -- whsec_…: signs every delivery
                previous_secret TEXT,          -- after a rotation: also signs until previous_until_ms
                previous_until_ms INTEGER,
                created_ms INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;
            CREATE TABLE webhook_deliveries (
                endpoint TEXT NOT NULL,
                event_seq INTEGER NOT NULL,
                state TEXT NOT NULL,           -- pending, delivered, dead
                attempts INTEGER NOT NULL DEFAULT 0,
                due_ms INTEGER NOT NULL,       -- pending: the next attempt
                first_attempt_ms INTEGER,
                last_attempt_ms INTEGER,
                last_status INTEGER,           -- the receiver's HTTP status, null when none came
                last_error TEXT,
                PRIMARY KEY (endpoint, event_seq)
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(endpoint, event_seq) WHERE state = 'pending';
            CREATE INDEX webhook_deliveries_dead ON webhook_deliveries(last_attempt_ms) WHERE state = 'dead';
            """, olderReleasesCanRun: true),
        // Mail to shoppers (docs/notifications.md): queued in the transaction of what causes it,
        // rendered and sent over SMTP off the loop.
        Migration(version: 15, name: "mail queue", sql: """
            CREATE TABLE mail_queue (
                id TEXT PRIMARY KEY,           -- mail_evt_… for an order event, mail_reset_… for a password reset
                kind TEXT NOT NULL,            -- order_confirmation, order_shipped, password_reset
                about TEXT NOT NULL,           -- the order or the customer it is about
                locale TEXT NOT NULL,
                sealed TEXT,                   -- password_reset: the token, sealed with this region's data key
                state TEXT NOT NULL,           -- pending, sent, dead
                attempts INTEGER NOT NULL DEFAULT 0,
                due_ms INTEGER NOT NULL,
                recorded_ms INTEGER NOT NULL,
                first_attempt_ms INTEGER,
                last_attempt_ms INTEGER,
                last_error TEXT
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX mail_queue_due ON mail_queue(due_ms) WHERE state = 'pending';
            """, olderReleasesCanRun: true),
        Migration(version: 16, name: "webhook endpoints that are a provider's API", sql: """
            ALTER TABLE webhook_endpoints ADD COLUMN template TEXT;  -- SMS or push: JSON {content_type, headers, body (Mustache)}
            """, olderReleasesCanRun: true),
        // Sales figures (docs/back-office.md): 5-minute windows folded from the orders, kept in
        // the transaction of each change to an order.
        Migration(version: 17, name: "sales windows", sql: """
            CREATE TABLE sales_windows (
                window_ms INTEGER NOT NULL,    -- start of the 5-minute window, Unix ms UTC
                channel TEXT NOT NULL,         -- web, till
                store TEXT NOT NULL,           -- the node that placed the orders
                region TEXT NOT NULL,
                currency TEXT NOT NULL,
                orders INTEGER NOT NULL,       -- money in minor units from here on
                units INTEGER NOT NULL,
                gross INTEGER NOT NULL,        -- paid plus discounts
                discounts INTEGER NOT NULL,
                tax INTEGER NOT NULL,
                refunds INTEGER NOT NULL,      -- refunded in this window, whenever the order was placed
                returned_units INTEGER NOT NULL,
                cash INTEGER NOT NULL,         -- the payment mix
                card INTEGER NOT NULL,
                card_offline INTEGER NOT NULL,
                PRIMARY KEY (window_ms, channel, store, region, currency)
            ) STRICT, WITHOUT ROWID;
            CREATE TABLE product_sales (
                window_ms INTEGER NOT NULL,
                product TEXT NOT NULL,
                category TEXT NOT NULL,        -- the product's category when it sold, '' for none
                channel TEXT NOT NULL,
                store TEXT NOT NULL,
                region TEXT NOT NULL,
                currency TEXT NOT NULL,
                units INTEGER NOT NULL,
                revenue INTEGER NOT NULL,      -- the lines less their discounts
                returned_units INTEGER NOT NULL,
                PRIMARY KEY (window_ms, product, category, channel, store, region, currency)
            ) STRICT, WITHOUT ROWID;
            -- What each order last added to the two tables (SalesContribution's text): taken out
            -- again when the order changes.
            CREATE TABLE sales_contributions (
                order_id TEXT PRIMARY KEY,
                figures TEXT NOT NULL
            ) STRICT, WITHOUT ROWID;
            """, olderReleasesCanRun: true),
        // The back office (docs/back-office.md): staff who sign in to /admin/ with a password,
        // and their sessions. Node-local: each store keeps its own staff.
        Migration(version: 18, name: "back-office staff accounts and sessions, the returns queue", sql: """
            CREATE TABLE staff_accounts (
                id TEXT PRIMARY KEY,           -- the name they sign in with
                name TEXT NOT NULL,            -- as pages show it
                role TEXT NOT NULL,            -- store_manager, operator, hub_admin
                password_hash TEXT NOT NULL,   -- PasswordHash's encoding (scrypt)
                created_ms INTEGER NOT NULL,
                changed_ms INTEGER NOT NULL    -- sessions from before it end (a new password, a new role)
            ) STRICT, WITHOUT ROWID;
            CREATE TABLE staff_sessions (
                id_hash TEXT PRIMARY KEY,      -- SHA-256 (hex) of the cookie's secret; the secret is never stored
                account TEXT NOT NULL,
                form_token TEXT NOT NULL,      -- what this session's forms carry (CSRF)
                created_ms INTEGER NOT NULL,
                expires_ms INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX staff_sessions_by_account ON staff_sessions(account);
            -- Returns asked for and not yet refunded or rejected, per order: the returns queue.
            ALTER TABLE orders_view ADD COLUMN returns_open INTEGER NOT NULL DEFAULT 0;
            CREATE INDEX orders_returns_open ON orders_view(placed_ms) WHERE returns_open > 0;
            CREATE INDEX orders_by_number ON orders_view(number);
            """, olderReleasesCanRun: true),
        // Product reviews (docs/back-office.md): the replicated reviews as rows, and each
        // product's rating over its approved ones.
        Migration(version: 19, name: "product reviews and ratings", sql: """
            CREATE TABLE reviews_view (
                key TEXT PRIMARY KEY,          -- rv:<product>:<customer>: one per customer and product
                product TEXT NOT NULL,
                customer TEXT NOT NULL,        -- the customer's id (pseudonymous outside their region)
                rating INTEGER NOT NULL,       -- 1 to 5 stars
                title TEXT,
                body TEXT NOT NULL,            -- plain text
                author TEXT NOT NULL,          -- the name shown with it
                status TEXT NOT NULL,          -- pending, approved, rejected
                reply TEXT,                    -- the store's public answer
                written_ms INTEGER NOT NULL,
                node TEXT NOT NULL,            -- where it was written
                moderated_by TEXT,
                moderated_ms INTEGER
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX reviews_approved ON reviews_view(product, written_ms) WHERE status = 'approved';
            CREATE INDEX reviews_by_status ON reviews_view(status, written_ms);
            CREATE TABLE product_ratings (
                product TEXT PRIMARY KEY,
                reviews INTEGER NOT NULL,      -- approved reviews
                stars_total INTEGER NOT NULL   -- their stars added up: the average is stars_total / reviews
            ) STRICT, WITHOUT ROWID;
            """, olderReleasesCanRun: true),
    ]
}
