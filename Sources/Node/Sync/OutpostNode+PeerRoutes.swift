import HTTP
import Persistence
import Platform

/// A peer as the admin API shows and takes it.
public struct SyncPeerBody: Codable, Sendable {
    public var nodeId: String
    public var region: String
    public var address: String
    /// "config" (from the file) or "added" (at run time).
    public var source: String?

    public init(nodeId: String, region: String, address: String, source: String? = nil) {
        self.nodeId = nodeId
        self.region = region
        self.address = address
        self.source = source
    }
}

extension OutpostNode {
    func registerPeerRoutes() {
        let peerSchema: JSONValue = [
            "type": "object", "required": ["node_id", "region", "address"],
            "properties": ["node_id": ["type": "string"], "region": ["type": "string"], "address": ["type": "string"], "source": ["enum": ["config", "added"]]],
        ]
        router.get("/admin/v1/sync/peers", access: .roles(["operator"]), doc: RouteDoc(
            operationId: "listPeers", summary: "The peers this node dials: from its configuration and added at run time.", tags: ["replication"],
            replies: [.init(200, "The peers.", schema: ["type": "array", "items": peerSchema])])
        ) { [unowned self] _ in
            .json(self.peerList())
        }

        router.add("POST", "/admin/v1/sync/peers", access: .roles(["operator"]), bodyBytesMax: 4096, doc: RouteDoc(
            operationId: "addPeer", summary: "Add a peer to dial; kept across restarts. Its certificate must name this id and region.",
            tags: ["replication"], requestBody: .init(0, "The peer.", schema: peerSchema),
            replies: [.init(200, "Added; the node dials it now.", schema: peerSchema)])
        ) { [unowned self] request, responder in
            do {
                guard let sync = self.fleet.sync else { throw HTTPError(.syncDisabled, detail: "enroll this node in its fleet first") }
                let body = try request.decodeJSON(SyncPeerBody.self)
                guard NodeConfig.isValidName(body.nodeId), body.nodeId != self.identity.nodeId else {
                    throw HTTPError(.validation, detail: "node_id must be another node's id")
                }
                guard NodeConfig.isValidName(body.region) else { throw HTTPError(.validation, detail: "region is not a valid region name") }
                guard let address = try? SocketAddress(parsing: body.address) else { throw HTTPError(.validation, detail: "address must be HOST:PORT") }
                guard !sync.configuredPeerIds.contains(body.nodeId) else {
                    throw HTTPError(.peerFromConfig, detail: "\(body.nodeId) is configured in the file")
                }
                let addedAt = WallClock.iso8601(ms: WallClock.nowMs())
                self.writer.submit({ db in
                    try NodeMeta(database: db).addPeer(nodeId: body.nodeId, region: body.region, address: address.description, at: addedAt)
                }, completion: { result in
                    switch result {
                    case .success:
                        sync.addPeer(NodeConfig.SyncPeer(nodeId: body.nodeId, region: body.region, address: address))
                        responder.send(.json(SyncPeerBody(nodeId: body.nodeId, region: body.region, address: address.description, source: "added")))
                    case .failure(let error):
                        responder.fail(error)
                    }
                })
            } catch {
                responder.fail(error)
            }
        }

        router.add("DELETE", "/admin/v1/sync/peers/{nodeId}", access: .roles(["operator"]), doc: RouteDoc(
            operationId: "removePeer", summary: "Forget a peer added at run time: its link closes and it is no longer dialed.", tags: ["replication"],
            parameters: [.init("nodeId", in: .path, description: "The peer's node id.")],
            replies: [.init(204, "Removed.", contentType: nil)])
        ) { [unowned self] request, responder in
            let id = request.parameter("nodeId") ?? ""
            guard let sync = self.fleet.sync else { return responder.fail(HTTPError(.syncDisabled, detail: "this node has no sync peers")) }
            guard !sync.configuredPeerIds.contains(id) else {
                return responder.fail(HTTPError(.peerFromConfig, detail: "\(id) is configured in the file; remove it there"))
            }
            self.writer.submit({ db in try NodeMeta(database: db).removePeer(id) }, completion: { result in
                switch result {
                case .success(let removed):
                    guard removed > 0 else { return responder.fail(HTTPError(.notFound, detail: "no peer \(id) was added")) }
                    sync.removePeer(id)
                    responder.send(.noContent())
                case .failure(let error):
                    responder.fail(error)
                }
            })
        }
    }

    func peerList() -> [SyncPeerBody] {
        guard let sync = fleet.sync else { return [] }
        return sync.peers.values.filter { $0.address != nil }.sorted { $0.nodeId < $1.nodeId }.map { peer in
            SyncPeerBody(nodeId: peer.nodeId, region: peer.region, address: peer.address?.description ?? "",
                         source: sync.configuredPeerIds.contains(peer.nodeId) ? "config" : "added")
        }
    }
}
