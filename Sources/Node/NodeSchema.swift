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
    ]
}
