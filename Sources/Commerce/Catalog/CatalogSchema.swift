/// The catalog's tables: a view of the replicated `catalog` and `inventory` collections, written
/// in the same transaction as the op log (local and replicated writes alike), so lists, lookups
/// and search never drift from the data. They can be rebuilt from the collections at any time.
public enum CatalogSchema {
    public static let sql = """
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
        """

    /// Search ranks and suggests from postings held in memory (SearchPostings), read from this
    /// table: its prefix indexes were never read, and they made every write of a product cost
    /// nearly twice as much (an import of 100k products spent seconds on them). The vocabulary
    /// view went with them (typo tolerance reads the postings' words).
    public static let searchWithoutPrefixes = """
        CREATE VIRTUAL TABLE catalog_search_7 USING fts5(
            name, description, codes, attributes,
            tokenize = 'unicode61 remove_diacritics 2'
        );
        INSERT INTO catalog_search_7(rowid, name, description, codes, attributes)
            SELECT rowid, name, description, codes, attributes FROM catalog_search;
        DROP TABLE catalog_search_terms;
        DROP TABLE catalog_search;
        ALTER TABLE catalog_search_7 RENAME TO catalog_search;
        """
}
