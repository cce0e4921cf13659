import Commerce
import HTTP
import Ledger
import Platform
import Replication

/// The hub signs its journal's head with its node key and every node keeps the checkpoints
/// (the `ledger` collection, keyed per hub and day), so that a rewrite of the hub's books, even
/// one that recomputes every hash, is caught against what the stores hold (docs/ledger.md).
extension OutpostNode {

    /// Every checkpoint this node holds.
    func heldCheckpoints() -> [LedgerCheckpoint] {
        guard let collection = replica.whole(Collections.ledger) else { return [] }
        return collection.states.values.flatMap { $0.elements.compactMap(LedgerCheckpoint.init(text:)) }.sorted { ($0.seq, $0.atMs) < ($1.seq, $1.atMs) }
    }

    /// Hub, on the tick: signs the head when it moved since the last checkpoint and the interval
    /// passed (or at once when `force`). The answer is the checkpoint, nil when there was nothing new.
    func signLedgerHead(nowMs: Int64, force: Bool = false, completion: ((Result<LedgerCheckpoint?, any Error>) -> Void)? = nil) {
        // With shared books only the leader signs: the others' heads may lag its.
        guard let desk = fleet.settlement, desk.leads, !desk.signingCheckpoint else { completion?(.success(nil)); return }
        guard force || nowMs - desk.lastCheckpointMs >= config.ledgerCheckpointIntervalMs else { return }
        desk.signingCheckpoint = true
        let hub = identity.nodeId, keyPair = identity.keyPair
        let done = { [unowned self] (result: Result<LedgerCheckpoint?, any Error>) in
            desk.signingCheckpoint = false
            desk.lastCheckpointMs = nowMs
            if case .success(let checkpoint?) = result {
                desk.lastCheckpointSeq = checkpoint.seq
                replicatedChanged()
            }
            if case .failure(let error) = result { logger.error("the ledger's head could not be signed", metadata: ["error": "\(error)"]) }
            completion?(result)
        }
        desk.readingForSettlement({ try $0.head() }) { [unowned self] head in
            guard case .success(let (seq, hash)) = head else { return done(head.map { _ in nil }) }
            guard seq > 0, force || seq != desk.lastCheckpointSeq else { return done(.success(nil)) }
            let checkpoint = LedgerCheckpoint.signed(hub: hub, seq: seq, hash: hash, atMs: nowMs, keyPair: keyPair)
            writer.submit({ [unowned self] _ -> LedgerCheckpoint? in
                let day = String(WallClock.iso8601(ms: nowMs).prefix(10))
                try reservations.addEvents([checkpoint.text], key: "\(hub)/\(day)", in: Collections.ledger, nowMs: WallClock.nowMs())
                return checkpoint
            }, completion: done)
        }
    }

    /// The keys whose checkpoints count: the one in the hub's fleet certificate (checked against
    /// the fleet CA), else, for a hub without one, its node key.
    func trustedLedgerKeys() -> Set<String> {
        if let pem = try? Files.readString(dataDirectory + "/" + NodeIdentity.certificateFile),
           let authority = try? Files.readString(dataDirectory + "/" + NodeIdentity.authorityFile), let der = Certificates.der(ofPEM: pem),
           let verified = Certificates.verifiedNode(der: der, authorityPEM: authority, nowSeconds: WallClock.nowMs() / 1000) {
            return [Hex.encode(verified.publicKey)]
        }
        return [Hex.encode(identity.keyPair.publicKey)]
    }

    static func checkpointJSON(_ c: LedgerCheckpoint) -> JSONValue {
        .object([JSONMember("hub", .string(c.hub)), JSONMember("seq", .int(c.seq)), JSONMember("hash", .string(c.hash)),
                 JSONMember("at", .string(WallClock.iso8601(ms: c.atMs))), JSONMember("key", .string(c.key)), JSONMember("text", .string(c.text))])
    }

    /// The journal verified, and checked against the checkpoints this node holds and `extra`.
    func verifyLedger(extra: [LedgerCheckpoint], responder: Responder) {
        let desk: SettlementDesk
        do { desk = try hubDesk() } catch { return responder.fail(error) }
        let held = heldCheckpoints()
        let ownKeys = trustedLedgerKeys()
        let authority = try? Files.readString(dataDirectory + "/" + NodeIdentity.authorityFile)
        let shared: Bool = if case .shared = desk.books { true } else { false }
        desk.reading({ ledger in
            let report = try ledger.verify()
            // Shared books: every hub that signed checkpoints of them and whose certificate the fleet's CA issued.
            let keys = shared ? ownKeys.union(try PostgresHub.Session.signerKeys(of: ledger, authorityPEM: authority)) : ownKeys
            let anchors = try ledger.check(against: held + extra, trustedKeys: keys)
            return (report, anchors.problems, anchors.anchoredThrough, anchors.checked)
        }) { result in
            switch result {
            case .success(let (report, anchorProblems, anchoredThrough, checked)):
                responder.send(.json(Self.verificationJSON(report, anchorProblems: anchorProblems, anchoredThrough: anchoredThrough, checked: checked,
                                                           held: held.count, given: extra.count)))
            case .failure(let error): responder.fail(error)
            }
        }
    }

    static func verificationJSON(_ report: LedgerVerification, anchorProblems: [LedgerVerification.Problem], anchoredThrough: Int64, checked: Int,
                                 held: Int, given: Int) -> JSONValue {
        let problems = report.problems + anchorProblems
        return .object([
            JSONMember("valid", .bool(problems.isEmpty)), JSONMember("entries", .int(report.entries)), JSONMember("head", .string(report.head)),
            JSONMember("checkpoints", .object([JSONMember("checked", .int(Int64(checked))), JSONMember("held", .int(Int64(held))),
                                               JSONMember("given", .int(Int64(given))), JSONMember("anchored_through", .int(anchoredThrough))])),
            JSONMember("problems", .array(problems.map { problem in
                .object([JSONMember("seq", problem.seq.map { .int($0) } ?? .null), JSONMember("account", problem.account.map { .string($0) } ?? .null),
                         JSONMember("reason", .string(problem.reason))])
            })),
            JSONMember("totals", .object(report.totals.sorted { $0.key < $1.key }.map {
                JSONMember($0.key, .object([JSONMember("debits", .int($0.value.debits)), JSONMember("credits", .int($0.value.credits))]))
            })),
        ])
    }

    func registerLedgerCheckpointRoutes() {
        let problem = RouteDoc.Reply.problem
        router.get("/admin/v1/ledger/checkpoints", access: .roles(Self.ledgerRoles + ["operator", "store_manager"]), doc: RouteDoc(
            operationId: "ledgerCheckpoints", summary: "The hub's signed checkpoints of its journal's head that this node holds (any node).",
            description: "Export them from a store (`nodectl ledger checkpoints`) and give them to `nodectl ledger verify --checkpoints` on the hub.",
            tags: ["ledger"], parameters: [.init("since", in: .query, description: "Only those signed at or after (ISO 8601 UTC).")]
                + KeyedPage<LedgerCheckpoint>.parameters(byDefault: 500, maximum: 5000),
            replies: [.init(200, "{checkpoints: [{hub, seq, hash, at, key, text}], next_cursor}, oldest first.", schema: ["type": "object"]),
                      problem(400, "since, limit or cursor is malformed.")])
        ) { [unowned self] request in
            var since: Int64 = 0
            if let text = request.queryValue("since") {
                guard let ms = WallClock.parseISO8601(text) else { throw HTTPError(.badRequest, detail: "since must be a UTC time in ISO 8601") }
                since = ms
            }
            func padded(_ n: Int64) -> String { let digits = String(n); return String(repeating: "0", count: max(0, 19 - digits.count)) + digits }
            let page = try KeyedPage(heldCheckpoints().filter { $0.atMs >= since }, key: { padded($0.seq) + "|" + padded($0.atMs) + "|" + $0.signature },
                                     request: request, byDefault: 500, maximum: 5000)
            return .json(["checkpoints": .array(page.items.map(Self.checkpointJSON)), "next_cursor": page.next])
        }

        router.add("POST", "/admin/v1/ledger/checkpoints", access: .roles(Self.ledgerRoles), bodyBytesMax: 0, doc: RouteDoc(
            operationId: "signLedgerHead", summary: "Hub: sign the journal's head now and replicate the checkpoint (it also does so every `ledger.checkpoint_interval_s`).",
            tags: ["ledger"],
            replies: [.init(201, "The checkpoint.", schema: ["type": "object"]), .init(204, "The journal is empty: nothing to sign."), problem(409, "Not the hub.")])
        ) { [unowned self] _, responder in
            do { _ = try hubDesk() } catch { return responder.fail(error) }
            signLedgerHead(nowMs: WallClock.nowMs(), force: true) { result in
                switch result {
                case .success(let checkpoint?): responder.send(.json(Self.checkpointJSON(checkpoint), status: 201))
                case .success(nil): responder.send(Response(status: 204))
                case .failure(let error): responder.fail(error)
                }
            }
        }

        router.add("POST", "/admin/v1/ledger/verify", access: .roles(Self.ledgerRoles), bodyBytesMax: 16 << 20, doc: RouteDoc(
            operationId: "verifyLedgerAgainstCheckpoints",
            summary: "Verify the journal as GET does, and against checkpoints given (a store's export, an archived file), one per line.",
            tags: ["ledger"], requestBody: .init(0, "Checkpoint lines (text/plain), as `nodectl ledger checkpoints` prints them.", contentType: "text/plain"),
            replies: [.init(200, "As GET /admin/v1/ledger/verify.", schema: ["type": "object"]), problem(409, "Not the hub."),
                      problem(415, "Not text/plain."), problem(422, "A line is not a checkpoint (`line`).")])
        ) { [unowned self] request, responder in
            guard (request.headers["content-type"] ?? "").lowercased().hasPrefix("text/plain") else {
                return responder.fail(HTTPError(.unsupportedMediaType, detail: "send the checkpoints as text/plain, one per line"))
            }
            var given: [LedgerCheckpoint] = []
            for (index, line) in String(decoding: request.body, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = String(line).trimmingWhitespace()
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                guard let checkpoint = LedgerCheckpoint(text: String(trimmed)) else {
                    var error = HTTPError(.checkpointsMalformed, detail: "line \(index + 1) is not a ledger checkpoint")
                    error.problem.extensions = [("line", .int(Int64(index + 1)))]
                    return responder.fail(error)
                }
                given.append(checkpoint)
            }
            verifyLedger(extra: given, responder: responder)
        }
    }
}
