/// The fleet's chart of accounts (docs/ledger.md): one set per region and currency, a cash
/// account and an offline-exposure budget per node. Accounts are opened the first time a
/// transfer needs them; their ids say what they are, so an export reads without a key.
public enum ChartOfAccounts {
    /// What the acquirer owes the merchant for card sales (captured, less fees and refunds).
    public static func clearing(region: String, currency: String) -> LedgerAccount {
        regional("clearing", .asset, region, currency)
    }

    /// Cash in a store's tills.
    public static func cash(node: String, currency: String) -> LedgerAccount {
        LedgerAccount(id: "cash:\(node):\(currency)", kind: .asset, currency: currency)
    }

    /// Sales, goods and shipping, net of tax and before discounts.
    public static func revenue(region: String, currency: String) -> LedgerAccount {
        regional("revenue", .revenue, region, currency)
    }

    /// Tax collected on sales, owed to the tax office.
    public static func taxPayable(region: String, currency: String) -> LedgerAccount {
        regional("tax", .liability, region, currency)
    }

    /// Promotions given (a contra-revenue account).
    public static func discounts(region: String, currency: String) -> LedgerAccount {
        regional("discounts", .expense, region, currency)
    }

    /// Money given back on returns, net of tax (a contra-revenue account).
    public static func refunds(region: String, currency: String) -> LedgerAccount {
        regional("refunds", .expense, region, currency)
    }

    /// What the acquirer keeps.
    public static func fees(region: String, currency: String) -> LedgerAccount {
        regional("fees", .expense, region, currency)
    }

    /// Differences between the cash a till should hold and what was counted at its Z-report.
    public static func cashOverShort(region: String, currency: String) -> LedgerAccount {
        regional("cash-over-short", .expense, region, currency)
    }

    /// A node's offline card exposure: a budget credited with its policy's cap; each card sale it
    /// took offline is a pending debit until the hub settles or declines it.
    public static func exposure(node: String, currency: String) -> LedgerAccount {
        LedgerAccount(id: "exposure:\(node):\(currency)", kind: .equity, currency: currency, debitsMustNotExceedCredits: true)
    }

    /// Where exposure budgets are funded from (the other side of every cap).
    public static func exposureLimits(currency: String) -> LedgerAccount {
        LedgerAccount(id: "exposure-limits:\(currency)", kind: .equity, currency: currency)
    }

    /// One of a region's accounts in one currency: `<name>:<region>:<currency>`.
    private static func regional(_ name: String, _ kind: LedgerAccount.Kind, _ region: String, _ currency: String) -> LedgerAccount {
        LedgerAccount(id: "\(name):\(region):\(currency)", kind: kind, currency: currency)
    }
}
