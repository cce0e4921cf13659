/// One schema change, declared in code and never edited once shipped: a later change is a new
/// migration with the next version. The checksum of each applied migration is stored, so an edit
/// is caught at start instead of leaving nodes with different schemas under the same version.
public struct Migration: Sendable {
    /// 1, 2, 3... without gaps.
    public let version: Int
    /// A short description, e.g. "node identity".
    public let name: String
    /// One or more SQL statements.
    public let sql: String
    /// The change only adds (tables, indexes, columns with defaults) and the release before it
    /// runs correctly on the result: a box rolled back to that release after an update still
    /// starts (firmware-image/README.md). Say so only when it is true; the default refuses.
    public let olderReleasesCanRun: Bool

    public init(version: Int, name: String, sql: String, olderReleasesCanRun: Bool = false) {
        self.version = version
        self.name = name
        self.sql = sql
        self.olderReleasesCanRun = olderReleasesCanRun
    }

    /// SHA-256 of the SQL, hex.
    var checksum: String { SHA256.hex(sql) }
}

/// Applies migrations at start, each in its own transaction.
public enum Migrator {
    /// Applies every migration newer than the database's, in order. Returns the versions applied.
    ///
    /// Throws `.migration` if an applied migration's SQL changed since it was applied, or if the
    /// database has a version this binary does not know (written by a newer release) that did not
    /// declare `olderReleasesCanRun`: a rollback runs on additive changes and refuses the rest.
    @discardableResult
    public static func apply(_ migrations: [Migration], to db: Database, now: String) throws -> [Int] {
        for (index, migration) in migrations.enumerated() {
            precondition(migration.version == index + 1, "migrations are numbered 1, 2, 3... in order")
        }
        try db.executeScript("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,   -- Migration.version
                name TEXT NOT NULL,            -- Migration.name when applied
                checksum TEXT NOT NULL,        -- SHA-256 (hex) of the SQL applied
                applied_at TEXT NOT NULL       -- UTC ISO 8601
            ) STRICT
            """)
        // Added in 0.2: databases from before it have no such column (their migrations predate it).
        if try db.queryOne("SELECT count(*) FROM pragma_table_info('schema_migrations') WHERE name = 'older_releases_can_run'", [], { $0.int(0) }) == 0 {
            try db.execute("ALTER TABLE schema_migrations ADD COLUMN older_releases_can_run INTEGER NOT NULL DEFAULT 0")
        }
        let applied = try db.query("SELECT version, checksum, older_releases_can_run FROM schema_migrations ORDER BY version") {
            ($0.int(0), $0.string(1), $0.int(2) != 0)
        }
        if let refusing = applied.first(where: { $0.0 > migrations.count && !$0.2 }) {
            throw StorageError(.migration, message: "database is at schema version \(applied.last?.0 ?? 0), newer than this binary (\(migrations.count)); migration \(refusing.0) changed what this release reads, so it refuses to run on it (restore the backup taken before the update, or install the newer release again)")
        }
        for (version, checksum, _) in applied where version <= migrations.count {
            let migration = migrations[version - 1]
            guard migration.checksum == checksum else {
                throw StorageError(.migration, message: "migration \(version) (\(migration.name)) differs from the one applied to this database; shipped migrations must never be edited")
            }
        }
        var done: [Int] = []
        for migration in migrations.dropFirst(applied.count) {
            try db.transaction {
                try db.executeScript(migration.sql)
                try db.execute(
                    "INSERT INTO schema_migrations(version, name, checksum, applied_at, older_releases_can_run) VALUES (?, ?, ?, ?, ?)",
                    [migration.version, migration.name, migration.checksum, now, migration.olderReleasesCanRun ? 1 : 0])
            }
            done.append(migration.version)
        }
        return done
    }

    /// The highest applied version, 0 for a new database.
    public static func currentVersion(of db: Database) throws -> Int {
        try db.queryOne("SELECT coalesce(max(version), 0) FROM schema_migrations") { $0.int(0) } ?? 0
    }
}
