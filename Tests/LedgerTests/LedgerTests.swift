import Ledger
import Node
import NodeTesting
import Platform
import XCTest

/// The books balance, a replay is recorded once, two-phase and linked transfers behave as in
/// TigerBeetle, and a changed journal is caught: the same checks on each place the books can
/// be kept (SQLite, PostgreSQL).
final class LedgerTests: XCTestCase {
    private var store: LedgerStoreUnderTest!

    override func setUpWithError() throws { store = try .sqlite() }
    override func tearDown() { store = nil }

    func testATransferMovesBothAccountsAndAReplayIsRecordedOnce() throws { try LedgerChecks(store).aTransferMovesBothAccountsAndAReplayIsRecordedOnce() }
    func testTwoPhaseTransfersPostVoidAndExpire() throws { try LedgerChecks(store).twoPhaseTransfersPostVoidAndExpire() }
    func testALinkedChainCommitsTogetherOrNotAtAll() throws { try LedgerChecks(store).aLinkedChainCommitsTogetherOrNotAtAll() }
    func testABudgetAccountRefusesDebitsBeyondItsCredits() throws { try LedgerChecks(store).aBudgetAccountRefusesDebitsBeyondItsCredits() }
    func testDebitsEqualCreditsAndAChangedEntryIsNamed() throws { try LedgerChecks(store).debitsEqualCreditsAndAChangedEntryIsNamed() }
}

/// The same checks with the books in a private PostgreSQL cluster.
final class PostgresLedgerTests: XCTestCase {
    private var store: LedgerStoreUnderTest!

    override func setUpWithError() throws {
        try XCTSkipUnless(PostgresCluster.isInstalled, "PostgreSQL is installed by .ci/setup")
        store = try .postgres()
    }
    override func tearDown() { store = nil }

    func testATransferMovesBothAccountsAndAReplayIsRecordedOnce() throws { try LedgerChecks(store).aTransferMovesBothAccountsAndAReplayIsRecordedOnce() }
    func testTwoPhaseTransfersPostVoidAndExpire() throws { try LedgerChecks(store).twoPhaseTransfersPostVoidAndExpire() }
    func testALinkedChainCommitsTogetherOrNotAtAll() throws { try LedgerChecks(store).aLinkedChainCommitsTogetherOrNotAtAll() }
    func testABudgetAccountRefusesDebitsBeyondItsCredits() throws { try LedgerChecks(store).aBudgetAccountRefusesDebitsBeyondItsCredits() }
    func testDebitsEqualCreditsAndAChangedEntryIsNamed() throws { try LedgerChecks(store).debitsEqualCreditsAndAChangedEntryIsNamed() }
}

/// A ledger on one kind of books, with what the checks need to do behind its back.
final class LedgerStoreUnderTest {
    let ledger: Ledger
    /// Tries an UPDATE and a DELETE of the journal: both must be refused.
    let refusesEdits: () throws -> Void
    /// Drops the journal's guard and changes entry 12's amount, as an operator with a shell could.
    let tamper: () throws -> Void
    private let keepAlive: [AnyObject]

    init(ledger: Ledger, refusesEdits: @escaping () throws -> Void, tamper: @escaping () throws -> Void, keepAlive: [AnyObject]) throws {
        self.ledger = ledger
        self.refusesEdits = refusesEdits
        self.tamper = tamper
        self.keepAlive = keepAlive
        try ledger.books.transaction {
            try ledger.open(LedgerAccount(id: "eu:EUR:acquirer_clearing", kind: .asset, currency: "EUR"))
            try ledger.open(LedgerAccount(id: "eu:EUR:sales", kind: .revenue, currency: "EUR"))
            try ledger.open(LedgerAccount(id: "eu:EUR:refunds", kind: .expense, currency: "EUR"))
            try ledger.open(LedgerAccount(id: "us:USD:sales", kind: .revenue, currency: "USD"))
            // An exposure budget: offline sales may use up to what the hub granted.
            try ledger.open(LedgerAccount(id: "store-1:EUR:offline_exposure", kind: .asset, currency: "EUR", debitsMustNotExceedCredits: true))
            try ledger.open(LedgerAccount(id: "store-1:EUR:offline_limit", kind: .liability, currency: "EUR"))
        }
    }

    static func sqlite() throws -> LedgerStoreUnderTest {
        let directory = TemporaryDirectory()
        let database = try Database(path: directory.file("hub.sqlite"))
        try Migrator.apply(NodeSchema.migrations, to: database, now: "t")
        return try LedgerStoreUnderTest(
            ledger: Ledger(database: database),
            refusesEdits: {
                XCTAssertThrowsError(try database.execute("UPDATE ledger_journal SET amount = 1 WHERE seq = 12"))
                XCTAssertThrowsError(try database.execute("DELETE FROM ledger_journal WHERE seq = 20"))
            },
            tamper: { try database.executeScript("DROP TRIGGER ledger_journal_no_update; UPDATE ledger_journal SET amount = 1 WHERE seq = 12;") },
            keepAlive: [directory, database])
    }

    static func postgres() throws -> LedgerStoreUnderTest {
        let cluster = try PostgresCluster.start()
        let connection = try PostgresConnection(cluster.conninfo)
        let books = PostgresBooks(connection: connection)
        try books.createSchema()
        return try LedgerStoreUnderTest(
            ledger: Ledger(books: books),
            refusesEdits: {
                XCTAssertThrowsError(try connection.execute("UPDATE ledger_journal SET amount = 1 WHERE seq = 12"))
                XCTAssertThrowsError(try connection.execute("DELETE FROM ledger_journal WHERE seq = 20"))
            },
            tamper: {
                try connection.execute("ALTER TABLE ledger_journal DISABLE TRIGGER ledger_journal_no_change")
                try connection.execute("UPDATE ledger_journal SET amount = 1 WHERE seq = 12")
            },
            keepAlive: [cluster, connection])
    }
}

/// The checks themselves, on any store.
struct LedgerChecks {
    let store: LedgerStoreUnderTest
    var ledger: Ledger { store.ledger }

    init(_ store: LedgerStoreUnderTest) { self.store = store }

    private func create(_ requests: TransferRequest..., at ms: Int64 = 1_000) throws -> [TransferResult] {
        try ledger.books.transaction { try ledger.create(requests, atMs: ms) }
    }

    private func sale(_ id: String, _ amount: Int64, linked: Bool = false) -> TransferRequest {
        TransferRequest(id: id, debit: "eu:EUR:acquirer_clearing", credit: "eu:EUR:sales", amount: amount, code: "settlement", reference: "p-1", linked: linked)
    }

    func aTransferMovesBothAccountsAndAReplayIsRecordedOnce() throws {
        XCTAssertEqual(try create(sale("settle:p-1", 4_995)), [.created(seq: 1)])
        XCTAssertEqual(try create(sale("settle:p-1", 4_995)), [.exists], "the same event again")
        XCTAssertEqual(try create(sale("settle:p-1", 5_000)), [.failed(.existsWithDifferentFields)])
        XCTAssertEqual(try ledger.account("eu:EUR:sales")?.balance, 4_995)
        XCTAssertEqual(try ledger.account("eu:EUR:acquirer_clearing")?.balance, 4_995)
        XCTAssertEqual(try ledger.head().seq, 1)

        let refused: [(TransferRequest, TransferError)] = [
            (TransferRequest(id: "x1", debit: "eu:EUR:sales", credit: "eu:EUR:sales", amount: 1, code: "c"), .accountsMustDiffer),
            (TransferRequest(id: "x2", debit: "eu:EUR:nope", credit: "eu:EUR:sales", amount: 1, code: "c"), .debitAccountNotFound),
            (TransferRequest(id: "x3", debit: "eu:EUR:acquirer_clearing", credit: "us:USD:sales", amount: 1, code: "c"), .currenciesMustMatch),
            (TransferRequest(id: "x4", debit: "eu:EUR:acquirer_clearing", credit: "eu:EUR:sales", amount: 0, code: "c"), .amountMustBePositive),
            (TransferRequest(id: "", debit: "eu:EUR:acquirer_clearing", credit: "eu:EUR:sales", amount: 1, code: "c"), .idMustNotBeEmpty),
        ]
        for (request, error) in refused { XCTAssertEqual(try create(request), [.failed(error)], request.id) }
        XCTAssertEqual(try ledger.head().seq, 1, "refusals write nothing")
        // One batch holding the same event twice and a replay of an earlier one.
        XCTAssertEqual(try create(sale("settle:p-2", 10), sale("settle:p-2", 10), sale("settle:p-1", 4_995), sale("settle:p-3", 20)),
                       [.created(seq: 2), .exists, .exists, .created(seq: 3)])
        XCTAssertEqual(try ledger.account("eu:EUR:sales")?.balance, 5_025)
        XCTAssertTrue(try ledger.verify().isValid)

        // Ids the caller says it looked up: one there after all fails the batch, writing nothing
        // (the SQLite books find it in the insert and answer `exists`).
        let told = try? ledger.books.transaction { try ledger.create([sale("settle:p-4", 30), sale("settle:p-3", 20)], atMs: 1_000, knownAbsent: true) }
        if ledger.books is PostgresBooks {
            XCTAssertNil(told, "the unique index refuses the batch")
            XCTAssertEqual(try ledger.head().seq, 3, "nothing of the batch")
            XCTAssertEqual(try ledger.account("eu:EUR:sales")?.balance, 5_025)
        } else {
            XCTAssertEqual(told, [.created(seq: 4), .exists])
        }
        XCTAssertTrue(try ledger.verify().isValid)
    }

    func twoPhaseTransfersPostVoidAndExpire() throws {
        let hold = TransferRequest(id: "hold:a", phase: .pending(timeoutMs: 10_000), debit: "eu:EUR:acquirer_clearing", credit: "eu:EUR:sales", amount: 1_000, code: "authorization")
        XCTAssertEqual(try create(hold), [.created(seq: 1)])
        var clearing = try XCTUnwrap(try ledger.account("eu:EUR:acquirer_clearing"))
        XCTAssertEqual([clearing.debitsPending, clearing.debitsPosted], [1_000, 0])
        XCTAssertEqual(try create(.post(id: "capture:a", pending: "hold:a", amount: 1_200, code: "capture")), [.failed(.amountExceedsPending)])
        XCTAssertEqual(try create(.post(id: "capture:a", pending: "hold:a", amount: 800, code: "capture")), [.created(seq: 2)])
        clearing = try XCTUnwrap(try ledger.account("eu:EUR:acquirer_clearing"))
        XCTAssertEqual([clearing.debitsPending, clearing.debitsPosted], [0, 800], "posted for less: the rest is released")
        XCTAssertEqual(try create(.void(id: "void:a", pending: "hold:a", code: "void")), [.failed(.pendingAlreadyPosted)])
        XCTAssertEqual(try create(.post(id: "capture:a", pending: "hold:a", amount: 800, code: "capture")), [.exists])

        XCTAssertEqual(try create(TransferRequest(id: "hold:b", phase: .pending(timeoutMs: 10_000), debit: "eu:EUR:acquirer_clearing", credit: "eu:EUR:sales", amount: 500, code: "authorization")).count, 1)
        XCTAssertEqual(try create(.void(id: "void:b", pending: "hold:b", code: "void")), [.created(seq: 4)])
        XCTAssertEqual(try create(.post(id: "capture:b", pending: "hold:b", code: "capture")), [.failed(.pendingAlreadyVoided)])

        XCTAssertEqual(try create(TransferRequest(id: "hold:c", phase: .pending(timeoutMs: 10_000), debit: "eu:EUR:acquirer_clearing", credit: "eu:EUR:sales", amount: 300, code: "authorization")).count, 1)
        XCTAssertEqual(try create(.post(id: "capture:c", pending: "hold:c", code: "capture"), at: 10_000), [.failed(.pendingExpired)], "past its time")
        XCTAssertEqual(try ledger.books.transaction { try ledger.expirePending(nowMs: 9_999) }, 0)
        XCTAssertEqual(try ledger.books.transaction { try ledger.expirePending(nowMs: 10_000) }, 1)
        XCTAssertEqual(try ledger.books.transaction { try ledger.expirePending(nowMs: 20_000) }, 0, "expired once")
        XCTAssertEqual(try ledger.journalEntry(id: "expire:hold:c")?.kind, .expire)
        XCTAssertEqual(try create(.post(id: "capture:c", pending: "hold:c", code: "capture")), [.failed(.pendingExpired)])
        XCTAssertEqual(try create(.post(id: "capture:z", pending: "nothing", code: "capture")), [.failed(.pendingNotFound)])
        clearing = try XCTUnwrap(try ledger.account("eu:EUR:acquirer_clearing"))
        XCTAssertEqual([clearing.debitsPending, clearing.debitsPosted], [0, 800])
        let verified = try ledger.verify()
        XCTAssertTrue(verified.isValid, "\(verified.problems)")
        XCTAssertEqual(verified.entries, 6)
    }

    func aLinkedChainCommitsTogetherOrNotAtAll() throws {
        let refund = TransferRequest(id: "refund:r1", debit: "eu:EUR:refunds", credit: "eu:EUR:acquirer_clearing", amount: 200, code: "refund", linked: true)
        let broken = TransferRequest(id: "refund:r1:fee", debit: "eu:EUR:refunds", credit: "us:USD:sales", amount: 5, code: "fee")
        XCTAssertEqual(try create(sale("settle:p-1", 1_000)), [.created(seq: 1)])
        XCTAssertEqual(try create(refund, broken), [.failed(.linkedEventFailed), .failed(.currenciesMustMatch)])
        XCTAssertNil(try ledger.journalEntry(id: "refund:r1"), "the first of the chain was rolled back")
        XCTAssertEqual(try ledger.account("eu:EUR:refunds")?.debitsPosted, 0)
        var fee = broken
        fee.credit = "eu:EUR:sales"
        XCTAssertEqual(try create(refund, fee), [.created(seq: 2), .created(seq: 3)])
        XCTAssertEqual(try create(sale("a", 1, linked: true)), [.failed(.linkedChainOpen)], "a chain must be closed")
        XCTAssertTrue(try ledger.verify().isValid)
    }

    func aBudgetAccountRefusesDebitsBeyondItsCredits() throws {
        XCTAssertEqual(try create(TransferRequest(id: "grant", debit: "store-1:EUR:offline_limit", credit: "store-1:EUR:offline_exposure", amount: 10_000, code: "policy")).count, 1)
        let offline = { (id: String, amount: Int64) in
            TransferRequest(id: id, phase: .pending(timeoutMs: 86_400_000), debit: "store-1:EUR:offline_exposure", credit: "store-1:EUR:offline_limit", amount: amount, code: "offline_sale")
        }
        XCTAssertEqual(try create(offline("sale:1", 6_000)), [.created(seq: 2)])
        XCTAssertEqual(try create(offline("sale:2", 5_000)), [.failed(.exceedsCredits)], "past the cap on unsettled exposure")
        XCTAssertEqual(try create(offline("sale:3", 4_000)), [.created(seq: 3)])
    }

    func debitsEqualCreditsAndAChangedEntryIsNamed() throws {
        for n in 1...20 { XCTAssertEqual(try create(sale("settle:p-\(n)", Int64(n * 100))).first?.isOK, true) }
        let verified = try ledger.verify(pageSize: 7)
        XCTAssertTrue(verified.isValid, "\(verified.problems)")
        XCTAssertEqual(verified.totals["EUR"]?.debits, 21_000)
        XCTAssertEqual(verified.totals["EUR"]?.credits, 21_000)
        XCTAssertEqual(verified.head, Hex.encode(try ledger.head().hash))

        // The journal refuses edits; someone with the database's shell drops the guard and edits anyway.
        try store.refusesEdits()
        try store.tamper()
        let tampered = try ledger.verify()
        XCTAssertFalse(tampered.isValid)
        XCTAssertEqual(tampered.problems.first?.seq, 12, "the first bad entry is named")
        XCTAssertTrue(tampered.problems.contains { $0.account == "eu:EUR:sales" }, "its balances no longer add up either")
    }
}

/// Two hubs on one cluster: one leads settlement at a time, the other takes over once the
/// lease expires, and the old leader, fenced, can never post again.
final class SettlementLeaseTests: XCTestCase {
    func testOneHubLeadsTheOtherTakesOverAndTheOldLeaderIsFenced() throws {
        try XCTSkipUnless(PostgresCluster.isInstalled, "PostgreSQL is installed by .ci/setup")
        let cluster = try PostgresCluster.start()
        let setup = try PostgresConnection(cluster.conninfo)
        try SettlementLease.createSchema(setup)
        try PostgresBooks(connection: setup).createSchema()
        let hubA = try PostgresConnection(cluster.conninfo), hubB = try PostgresConnection(cluster.conninfo)
        let leaseA = SettlementLease(connection: hubA, holder: "hub-a", leaseMs: 400)
        let leaseB = SettlementLease(connection: hubB, holder: "hub-b", leaseMs: 400)
        let ledgerA = Ledger(books: PostgresBooks(connection: hubA))
        XCTAssertThrowsError(try leaseA.fenced { try ledgerA.open(LedgerAccount(id: "x", kind: .asset, currency: "EUR")) }, "no lease, no writes")

        XCTAssertTrue(try leaseA.acquire())
        XCTAssertFalse(try leaseB.acquire(), "one leader at a time")
        XCTAssertTrue(try leaseA.renew())
        XCTAssertEqual(try leaseB.leader()?.holder, "hub-a")
        try leaseA.fenced {
            try ledgerA.open(LedgerAccount(id: "eu:EUR:clearing", kind: .asset, currency: "EUR"))
            try ledgerA.open(LedgerAccount(id: "eu:EUR:sales", kind: .revenue, currency: "EUR"))
            XCTAssertEqual(try ledgerA.create([TransferRequest(id: "t-1", debit: "eu:EUR:clearing", credit: "eu:EUR:sales", amount: 1, code: "c")], atMs: 1),
                           [.created(seq: 1)])
        }

        // hub-a stops renewing (it froze): once the lease has run out, hub-b takes it.
        XCTAssertTrue(eventually { try leaseB.acquire() })
        XCTAssertEqual(leaseB.epoch, 2)
        XCTAssertThrowsError(try leaseA.fenced {
            _ = try ledgerA.create([TransferRequest(id: "t-2", debit: "eu:EUR:clearing", credit: "eu:EUR:sales", amount: 1, code: "c")], atMs: 2)
        }) { XCTAssertEqual(($0 as? SettlementLease.Fenced)?.holder, "hub-b") }
        XCTAssertFalse(try leaseA.renew(), "a fenced leader cannot renew its way back")
        XCTAssertNil(try ledgerA.journalEntry(id: "t-2"), "nothing was posted")
        XCTAssertEqual(try Ledger(books: PostgresBooks(connection: hubB)).head().seq, 1)
    }
}
