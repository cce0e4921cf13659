import Platform

/// A store's tills and the people who use them: paired devices (by the hash of their key),
/// one-time pairing codes, staff with their PIN MACs, and cashiers' sessions. Owns `pos_devices`,
/// `pos_pairing_codes`, `pos_staff` and `pos_sessions`; every method runs in the caller's
/// transaction or read. Only hashes of keys, codes and session tokens are kept.
///
///     pairing code ──paired (once, before it expires)──▶ device ──revoked──▶ (its sessions end)
///     staff ──signs in with its PIN on a device──▶ session ──signed out, expired, disabled or revoked──▶ ended
public struct TillRegistry {
    public struct Device: Equatable, Sendable {
        public var id: String
        public var name: String
        public var pairedMs: Int64
        public var pairedBy: String
        public var revokedMs: Int64?
        public var revokedBy: String?
    }

    public struct Staff: Equatable, Sendable {
        public var id: String
        public var name: String
        public var role: String
        public var disabled: Bool

        public init(id: String, name: String, role: String, disabled: Bool) {
            self.id = id
            self.name = name
            self.role = role
            self.disabled = disabled
        }
    }

    /// Who a session token speaks for.
    public struct Session: Equatable, Sendable {
        public var device: String
        public var staff: String
        public var role: String
    }

    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    // MARK: Devices

    public func addPairingCode(hash: String, name: String, by: String, atMs: Int64, expiresMs: Int64) throws {
        try database.execute("INSERT INTO pos_pairing_codes(code_hash, name, created_by, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?)",
                             [hash, name, by, atMs, expiresMs])
    }

    /// Pairs `device` with the code whose hash is `codeHash`, if it is unused and not expired:
    /// the code is spent and the device takes its name. Nil: no such code.
    public func pair(codeHash: String, device: String, credentialHash: String, atMs: Int64) throws -> String? {
        guard let (name, by) = try database.queryOne("""
            SELECT name, created_by FROM pos_pairing_codes WHERE code_hash = ? AND device IS NULL AND expires_ms > ?
            """, [codeHash, atMs], { ($0.string("name"), $0.string("created_by")) }) else { return nil }
        try database.execute("UPDATE pos_pairing_codes SET device = ? WHERE code_hash = ?", [device, codeHash])
        try database.execute("INSERT INTO pos_devices(id, name, credential_hash, paired_ms, paired_by) VALUES (?, ?, ?, ?, ?)",
                             [device, name, credentialHash, atMs, by])
        return name
    }

    /// The device whose key hashes to `credentialHash`, unless it was revoked.
    public func device(credentialHash: String) throws -> String? {
        try database.queryOne("SELECT id FROM pos_devices WHERE credential_hash = ? AND revoked_ms IS NULL", [credentialHash]) { $0.string("id") }
    }

    public func devices() throws -> [Device] {
        try database.query("SELECT id, name, paired_ms, paired_by, revoked_ms, revoked_by FROM pos_devices") {
            Device(id: $0.string("id"), name: $0.string("name"), pairedMs: $0.int64("paired_ms"), pairedBy: $0.string("paired_by"),
                   revokedMs: $0.optionalInt64("revoked_ms"), revokedBy: $0.optionalString("revoked_by"))
        }
    }

    /// Revokes a device and ends its sessions; false when there is no such device.
    public func revoke(_ device: String, by: String, atMs: Int64) throws -> Bool {
        guard try database.queryOne("SELECT 1 FROM pos_devices WHERE id = ?", [device], { _ in true }) != nil else { return false }
        try database.execute("UPDATE pos_devices SET revoked_ms = ?, revoked_by = ? WHERE id = ? AND revoked_ms IS NULL", [atMs, by, device])
        try database.execute("UPDATE pos_sessions SET ended_ms = ? WHERE device = ? AND ended_ms IS NULL", [atMs, device])
        return true
    }

    // MARK: Staff

    /// Adds or changes a staff member; disabling one ends their sessions.
    public func putStaff(_ staff: Staff, pinHash: String, atMs: Int64) throws {
        try database.execute("""
            INSERT INTO pos_staff(id, name, role, pin_hash, updated_ms, disabled) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET name = excluded.name, role = excluded.role, pin_hash = excluded.pin_hash,
                updated_ms = excluded.updated_ms, disabled = excluded.disabled
            """, [staff.id, staff.name, staff.role, pinHash, atMs, staff.disabled ? 1 : 0])
        if staff.disabled { try database.execute("UPDATE pos_sessions SET ended_ms = ? WHERE staff = ? AND ended_ms IS NULL", [atMs, staff.id]) }
    }

    /// An active staff member with the MAC of their PIN (to check one against).
    public func activeStaff(_ id: String) throws -> (staff: Staff, pinHash: String)? {
        try database.queryOne("SELECT id, name, role, pin_hash FROM pos_staff WHERE id = ? AND disabled = 0", [id]) {
            (Staff(id: $0.string("id"), name: $0.string("name"), role: $0.string("role"), disabled: false), $0.string("pin_hash"))
        }
    }

    /// Staff by id, `limit` after `after`.
    public func staff(after: String, limit: Int) throws -> [Staff] {
        try database.query("SELECT id, name, role, disabled FROM pos_staff WHERE id > ? ORDER BY id LIMIT ?", [after, limit]) {
            Staff(id: $0.string("id"), name: $0.string("name"), role: $0.string("role"), disabled: $0.bool("disabled"))
        }
    }

    // MARK: Sessions

    public func startSession(tokenHash: String, device: String, staff: String, atMs: Int64, expiresMs: Int64) throws {
        try database.execute("INSERT INTO pos_sessions(token_hash, device, staff, started_ms, expires_ms) VALUES (?, ?, ?, ?, ?)",
                             [tokenHash, device, staff, atMs, expiresMs])
    }

    public func endSession(tokenHash: String, atMs: Int64) throws {
        try database.execute("UPDATE pos_sessions SET ended_ms = ? WHERE token_hash = ?", [atMs, tokenHash])
    }

    /// The session a token opens now: not ended or expired, on a device not revoked, for staff not disabled.
    public func session(tokenHash: String, nowMs: Int64) throws -> Session? {
        try database.queryOne("""
            SELECT s.device AS device, s.staff AS staff, st.role AS role FROM pos_sessions s
            JOIN pos_devices d ON d.id = s.device JOIN pos_staff st ON st.id = s.staff
            WHERE s.token_hash = ? AND s.ended_ms IS NULL AND s.expires_ms > ? AND d.revoked_ms IS NULL AND st.disabled = 0
            """, [tokenHash, nowMs]) { Session(device: $0.string("device"), staff: $0.string("staff"), role: $0.string("role")) }
    }
}
