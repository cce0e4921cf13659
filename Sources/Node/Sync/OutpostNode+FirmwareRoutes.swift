import HTTP
import Platform

/// `nodectl firmware publish | fetch | status` through the admin API: the hub's shelf of bundles
/// and a store's fetch of one (FirmwareShelf).
extension OutpostNode {
    struct FirmwareFetchBody: Decodable { var version: String? }

    func registerFirmwareRoutes() {
        let bundleSchema: JSONValue = [
            "type": "object", "required": ["version", "compatible", "bytes", "sha256"],
            "properties": ["version": ["type": "string"], "compatible": ["type": "string"], "bytes": ["type": "integer"],
                           "sha256": ["type": "string"], "path": ["type": "string"]],
        ]
        let fetchSchema: JSONValue = [
            "type": "object", "required": ["version", "state", "bytes_received", "bytes"],
            "properties": ["version": ["type": "string"], "state": ["enum": ["fetching", "waiting_for_hub", "verifying", "ready", "failed"]],
                           "bytes_received": ["type": "integer"], "bytes": ["type": "integer"], "error": ["type": "string"], "path": ["type": "string"]],
        ]
        router.get("/admin/v1/firmware", access: .roles(["operator"]), doc: RouteDoc(
            operationId: "getFirmware", summary: "Firmware bundles held here, those the hub offers, and a fetch under way.", tags: ["firmware"],
            replies: [.init(200, "The shelf.", schema: [
                "type": "object", "required": ["role", "held", "offered"],
                "properties": ["role": ["type": "string"], "held": ["type": "array", "items": bundleSchema], "offered_by": ["type": "string"],
                               "offered": ["type": "array", "items": bundleSchema], "fetch": fetchSchema],
            ])])
        ) { [unowned self] _ in
            guard let firmware = self.fleet.sync?.firmware else { throw HTTPError(.syncDisabled, detail: "enroll this node in its fleet first") }
            return .json(bytes: try JSONCoding.encode(firmware.report()))
        }

        router.add("POST", "/admin/v1/firmware/fetch", access: .roles(["operator"]), bodyBytesMax: 1024, doc: RouteDoc(
            operationId: "fetchFirmware", summary: "Fetch a bundle the hub offers over the sync link; GET /admin/v1/firmware follows it.",
            description: "Without `version`, the only bundle offered. The bundle is kept only if its SHA-256 is the one offered; `nodectl firmware install` checks its signature again.",
            tags: ["firmware"], requestBody: .init(0, "Which bundle.", schema: ["type": "object", "properties": ["version": ["type": "string"]]]),
            replies: [
                .init(202, "Fetching (or held already: `state` ready).", schema: fetchSchema),
                .init(409, "Not offered, no link to the hub, another fetch under way, or no room (`reason`).",
                      contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef),
            ])
        ) { [unowned self] request in
            guard let firmware = self.fleet.sync?.firmware else { throw HTTPError(.syncDisabled, detail: "enroll this node in its fleet first") }
            let body = request.body.isEmpty ? FirmwareFetchBody() : try request.decodeJSON(FirmwareFetchBody.self)
            let started: FirmwareReport.Fetch
            do throws(FirmwareFetchRefusal) { started = try firmware.startFetch(body.version) } catch {
                var refused = HTTPError(.firmwareFetchRefused, detail: error.detail)
                refused.problem.extensions = [("reason", .string(error.reason.rawValue))]
                throw refused
            }
            return .json(bytes: try JSONCoding.encode(started), status: 202)
        }

        router.add("POST", "/admin/v1/firmware/reload", access: .roles(["operator"]), bodyBytesMax: 0, doc: RouteDoc(
            operationId: "reloadFirmware", summary: "Read the firmware shelf again; the hub offers its peers what is on it now.",
            description: "`nodectl firmware publish` calls this after putting a checked bundle on the hub's shelf.", tags: ["firmware"],
            replies: [.init(200, "The shelf.", schema: ["type": "object"])])
        ) { [unowned self] _ in
            guard let sync = self.fleet.sync, let firmware = sync.firmware else { throw HTTPError(.syncDisabled, detail: "enroll this node in its fleet first") }
            if self.config.role == .hub { sync.firmwarePublished() } else { firmware.reload() }
            return .json(bytes: try JSONCoding.encode(firmware.report()))
        }
    }
}
