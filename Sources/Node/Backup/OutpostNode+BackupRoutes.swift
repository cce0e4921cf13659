import HTTP
import Platform

/// `nodectl backup create | status` against a running node (docs/backups.md).
extension OutpostNode {
    func registerBackupRoutes() {
        let statusSchema: JSONValue = [
            "type": "object", "required": ["enabled", "committed_seq", "archived_seq", "pending_bytes", "full_running"],
            "properties": [
                "enabled": ["type": "boolean"], "directory": ["type": "string"], "chain": ["type": "string"],
                "committed_seq": ["type": "integer"], "archived_seq": ["type": "integer"], "archived_at": ["type": "string", "format": "date-time"],
                "pending_bytes": ["type": "integer"], "full_running": ["type": "boolean"], "last_full": ["type": "string"],
                "last_full_at": ["type": "string", "format": "date-time"], "last_full_bytes": ["type": "integer"], "last_error": ["type": "string"],
            ],
        ]
        router.get("/admin/v1/backups", access: .roles(["operator"]), doc: RouteDoc(
            operationId: "getBackups", summary: "The backup archive and the last full backup: how far each reached.", tags: ["backups"],
            replies: [.init(200, "Backup status.", schema: statusSchema)])
        ) { [unowned self] _ in
            .json(bytes: try JSONCoding.encode(self.life.backup?.status() ?? BackupStatusReport(
                enabled: false, committedSeq: 0, archivedSeq: 0, pendingBytes: 0, fullRunning: false)))
        }

        router.add("POST", "/admin/v1/backups", access: .roles(["operator"]), bodyBytesMax: 0, doc: RouteDoc(
            operationId: "startFullBackup", summary: "Start a full backup now; GET /admin/v1/backups follows it.", tags: ["backups"],
            replies: [
                .init(202, "Started.", schema: statusSchema),
                .init(409, "Backups are not configured, or a full backup is running (`reason`).",
                      contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef),
            ])
        ) { [unowned self] _ in
            guard let backup = self.life.backup else { throw Self.backupRefused("not_configured", "this node has no [backup] directory and key_file") }
            guard backup.startFull() else { throw Self.backupRefused("running", "a full backup is running; GET /admin/v1/backups follows it") }
            return .json(bytes: try JSONCoding.encode(backup.status()), status: 202)
        }
    }

    private static func backupRefused(_ reason: String, _ detail: String) -> HTTPError {
        var error = HTTPError(.backupRefused, detail: detail)
        error.problem.extensions = [("reason", .string(reason))]
        return error
    }
}
