import Commerce
import Platform
import TOMLKit

/// Flags given on the command line; each wins over the file.
public struct NodeFlags: Sendable {
    public var dataDirectory: String?
    public var listen: [String] = []
    public var nodeId: String?
    public var region: String?
    public var role: String?
    public var logLevel: String?

    public init() {}
}

extension NodeConfig {
    /// Reads `path` (if given), then applies flags. Unknown keys and bad values are errors.
    public static func load(file path: String?, flags: NodeFlags) throws(ConfigError) -> NodeConfig {
        var config = NodeConfig()
        if let path {
            let text: String
            do { text = try Files.readString(path) } catch { throw ConfigError(key: path, "cannot read the file: \(error.reason)") }
            try config.apply(toml: text, source: path)
            config.source = Files.absolute(path)
        }
        try config.apply(flags)
        return config
    }

    /// Applies a TOML document over the current values.
    public mutating func apply(toml text: String, source: String = "config") throws(ConfigError) {
        let table = try TOMLReader.parse(text, source: source)
        let reader = TOMLReader(table: table, prefix: "")
        try reader.allowOnly(["node", "http", "rate_limits", "log", "database", "sync", "cache", "storefront", "auth", "checkout", "inventory", "returns", "pos", "ledger", "backup", "webhooks", "mail", "reviews"])
        try applyServing(reader)
        try applyFleet(reader)
        try applyShop(reader)
    }

    /// The node itself and how it serves: identity, HTTP, rate limits, logs.
    private mutating func applyServing(_ reader: TOMLReader) throws(ConfigError) {
        if let node = try reader.table("node") {
            try node.allowOnly(["id", "region", "role", "data_dir", "locale"])
            if let id = try node.string("id") { nodeId = try Self.name(id, key: "node.id") }
            if let region = try node.string("region") { self.region = try Self.name(region, key: "node.region") }
            if let role = try node.string("role") { self.role = try Self.role(role, key: "node.role") }
            if let dir = try node.string("data_dir") { dataDirectory = try Self.directory(dir, key: "node.data_dir") }
            if let locale = try node.string("locale") {
                guard ProductInput.isLocale(locale) else { throw ConfigError(key: "node.locale", "must be a locale such as en, de or fr-CA, not \"\(locale)\"") }
                self.locale = locale
            }
        }
        if let http = try reader.table("http") {
            try http.allowOnly(["listen", "header_read_timeout_ms", "body_read_timeout_ms", "body_deadline_ms", "idle_timeout_ms",
                                "body_bytes_max", "connections_max", "connections_per_address_max", "shutdown_grace_ms", "public_metrics",
                                "tls_certificate", "tls_key", "tls_min_version"])
            if let addresses = try http.stringOrStrings("listen") {
                guard !addresses.isEmpty else { throw ConfigError(key: "http.listen", "give at least one HOST:PORT") }
                listen = try addresses.map { text throws(ConfigError) in try Self.address(text, key: "http.listen") }
            }
            if let v = try http.integer("header_read_timeout_ms", in: 1...3_600_000) { self.http.headerReadTimeoutMs = UInt64(v) }
            if let v = try http.integer("body_read_timeout_ms", in: 1...3_600_000) { self.http.bodyReadTimeoutMs = UInt64(v) }
            if let v = try http.integer("body_deadline_ms", in: 1...3_600_000) { self.http.bodyDeadlineMs = UInt64(v) }
            if let v = try http.integer("idle_timeout_ms", in: 1...86_400_000) { self.http.idleTimeoutMs = UInt64(v) }
            if let v = try http.integer("body_bytes_max", in: 1...(1 << 30)) { self.http.bodyBytesMax = v }
            if let v = try http.integer("connections_max", in: 1...1_000_000) { self.http.connectionsMax = v }
            if let v = try http.integer("connections_per_address_max", in: 1...1_000_000) { self.http.connectionsPerAddressMax = v }
            if let v = try http.bool("public_metrics") { self.http.publicMetrics = v }
            if let v = try http.string("tls_certificate") { self.http.tlsCertificate = v }
            if let v = try http.string("tls_key") { self.http.tlsKey = v }
            if let v = try http.string("tls_min_version") {
                guard ["1.2", "1.3"].contains(v) else { throw ConfigError(key: "http.tls_min_version", "must be \"1.2\" or \"1.3\"") }
                self.http.tlsMinimumVersion = v
            }
            if (self.http.tlsCertificate == nil) != (self.http.tlsKey == nil) && self.http.tlsCertificate != "fleet" {
                throw ConfigError(key: "http.tls_key", "give http.tls_certificate and http.tls_key together (or tls_certificate = \"fleet\")")
            }
            if let v = try http.integer("shutdown_grace_ms", in: 0...600_000) { shutdownGraceMs = UInt64(v) }
        }
        if let limits = try reader.table("rate_limits") {
            try limits.allowOnly(["enabled", "standard_per_5min", "search_per_minute", "credentials_per_minute", "credentials_total_per_second"])
            if let v = try limits.bool("enabled") { rateLimits.enabled = v }
            if let v = try limits.integer("standard_per_5min", in: 1...100_000_000) { rateLimits.standardPer5Minutes = Int64(v) }
            if let v = try limits.integer("search_per_minute", in: 1...100_000_000) { rateLimits.searchPerMinute = Int64(v) }
            if let v = try limits.integer("credentials_per_minute", in: 1...100_000) { rateLimits.credentialsPerMinute = Int64(v) }
            if let v = try limits.integer("credentials_total_per_second", in: 1...100_000) { rateLimits.credentialsTotalPerSecond = Int64(v) }
        }
        if let log = try reader.table("log") {
            try log.allowOnly(["level", "access_log"])
            if let level = try log.string("level") { logLevel = try Self.level(level, key: "log.level") }
            if let access = try log.bool("access_log") { accessLog = access }
        }
    }

    /// Sync, the ledger's checkpoints, the cache and password hashing.
    private mutating func applyFleet(_ reader: TOMLReader) throws(ConfigError) {
        if let sync = try reader.table("sync") {
            try sync.allowOnly(["listen", "max_drift_ms", "forget_peer_after_ms", "rebalance_interval_ms", "link_timeout_ms", "peers"])
            if let timeout = try sync.integer("link_timeout_ms", in: 2_000...600_000) { self.sync.linkTimeoutMs = Int64(timeout) }
            if let every = try sync.integer("rebalance_interval_ms", in: 100...86_400_000) { self.sync.rebalanceIntervalMs = Int64(every) }
            if let forget = try sync.integer("forget_peer_after_ms", in: 1_000...(365 * 86_400_000)) { self.sync.forgetPeerAfterMs = Int64(forget) }
            if let listen = try sync.string("listen") { self.sync.listen = try Self.address(listen, key: "sync.listen") }
            if let drift = try sync.integer("max_drift_ms", in: 1_000...86_400_000) { self.sync.maxDriftMs = Int64(drift) }
            for (index, peer) in try sync.tables("peers").enumerated() {
                let key = "sync.peers[\(index)]"
                try peer.allowOnly(["node_id", "region", "address"])
                guard let id = try peer.string("node_id") else { throw ConfigError(key: key + ".node_id", "is required") }
                guard let region = try peer.string("region") else { throw ConfigError(key: key + ".region", "is required") }
                guard let address = try peer.string("address") else { throw ConfigError(key: key + ".address", "is required") }
                let parsed = NodeConfig.SyncPeer(nodeId: try Self.name(id, key: key + ".node_id"), region: try Self.name(region, key: key + ".region"),
                                                 address: try Self.address(address, key: key + ".address"))
                guard !self.sync.peers.contains(where: { $0.nodeId == parsed.nodeId }) else {
                    throw ConfigError(key: key + ".node_id", "\"\(id)\" is listed twice")
                }
                self.sync.peers.append(parsed)
            }
        }
        if let reviews = try reader.table("reviews") {
            try reviews.allowOnly(["share"])
            if let share = try reviews.string("share") {
                guard let value = NodeConfig.ReviewShare(rawValue: share) else { throw ConfigError(key: "reviews.share", "must be region or fleet") }
                self.reviewShare = value
            }
        }
        if let webhooks = try reader.table("webhooks") {
            try webhooks.allowOnly(["first_retry_s", "max_retry_s", "give_up_after_s", "timeout_s", "allow_http", "ca_file", "concurrent_max", "keep_delivered_days"])
            var retry = self.webhooks.retry
            if let v = try webhooks.integer("first_retry_s", in: 1...3_600) { retry.firstDelayMs = Int64(v) * 1000 }
            if let v = try webhooks.integer("max_retry_s", in: 1...86_400) { retry.maxDelayMs = Int64(v) * 1000 }
            if let v = try webhooks.integer("give_up_after_s", in: 1...(30 * 86_400)) { retry.giveUpAfterMs = Int64(v) * 1000 }
            guard retry.maxDelayMs >= retry.firstDelayMs else { throw ConfigError(key: "webhooks.max_retry_s", "must not be below first_retry_s") }
            self.webhooks.retry = retry
            if let v = try webhooks.integer("timeout_s", in: 1...120) { self.webhooks.timeoutMs = Int32(v) * 1000 }
            if let v = try webhooks.bool("allow_http") { self.webhooks.allowsHTTP = v }
            if let v = try webhooks.string("ca_file") { self.webhooks.caFile = try Self.directory(v, key: "webhooks.ca_file") }
            if let v = try webhooks.integer("concurrent_max", in: 1...64) { self.webhooks.concurrentMax = v }
            if let v = try webhooks.integer("keep_delivered_days", in: 1...365) { self.webhooks.keepDeliveredMs = Int64(v) * 86_400_000 }
        }
        if let mail = try reader.table("mail") { self.mail = try Self.mailSettings(mail) }
        if let backup = try reader.table("backup") {
            try backup.allowOnly(["directory", "key_file", "full_interval_hours", "retention_days", "ship_to_hub", "stores_directory"])
            if let ship = try backup.bool("ship_to_hub") { self.backup.shipsToHub = ship }
            if let dir = try backup.string("stores_directory") { self.backup.storesDirectory = try Self.directory(dir, key: "backup.stores_directory") }
            if let dir = try backup.string("directory") { self.backup.directory = try Self.directory(dir, key: "backup.directory") }
            if let file = try backup.string("key_file") { self.backup.keyFile = try Self.directory(file, key: "backup.key_file") }
            if let hours = try backup.integer("full_interval_hours", in: 1...168) { self.backup.fullIntervalMs = Int64(hours) * 3_600_000 }
            if let days = try backup.integer("retention_days", in: 1...3_650) { self.backup.retentionMs = Int64(days) * 86_400_000 }
            guard (self.backup.directory == nil) == (self.backup.keyFile == nil) else {
                throw ConfigError(key: "backup", "give both directory and key_file (the key is kept apart from the backups)")
            }
        }
        if let ledger = try reader.table("ledger") {
            try ledger.allowOnly(["checkpoint_interval_s", "store", "postgresql", "lease_s"])
            if let v = try ledger.integer("checkpoint_interval_s", in: 1...86_400) { ledgerCheckpointIntervalMs = Int64(v) * 1000 }
            if let v = try ledger.integer("lease_s", in: 1...300) { settlementLeaseMs = Int64(v) * 1000 }
            let connection = try ledger.string("postgresql")
            switch try ledger.string("store") ?? "sqlite" {
            case "sqlite":
                guard connection == nil else { throw ConfigError(key: "ledger.postgresql", "is used only with store = \"postgresql\"") }
            case "postgresql":
                guard let connection else { throw ConfigError(key: "ledger.postgresql", "give the cluster's libpq connection string") }
                if let problem = PostgresConnection.problem(inConnectionString: connection) { throw ConfigError(key: "ledger.postgresql", problem) }
                ledgerStore = .postgresql(connection: connection)
            case let other: throw ConfigError(key: "ledger.store", "is \"sqlite\" or \"postgresql\", not \"\(other)\"")
            }
        }
        if let cache = try reader.table("cache") {
            try cache.allowOnly(["bytes_max"])
            if let v = try cache.integer("bytes_max", in: (1 << 20)...(1 << 34)) { cacheBytesMax = v }
        }
        if let auth = try reader.table("auth") {
            try auth.allowOnly(["password_cost"])
            if let v = try auth.integer("password_cost", in: 10...20) { passwordCostLog2N = UInt8(v) }
        }
    }

    /// The shop's rules: checkout, returns, tills, stock location, storefront.
    private mutating func applyShop(_ reader: TOMLReader) throws(ConfigError) {
        if let checkout = try reader.table("checkout") {
            try checkout.allowOnly(["tax_rate_bp", "prices_include_tax", "shipping_flat_fee", "free_shipping_from", "reservation_seconds"])
            if let v = try checkout.integer("tax_rate_bp", in: 0...10_000) { self.checkout.taxRateBasisPoints = Int64(v) }
            if let v = try checkout.bool("prices_include_tax") { self.checkout.pricesIncludeTax = v }
            if let v = try checkout.integer("shipping_flat_fee", in: 0...100_000_000) { self.checkout.shippingFlatFee = Int64(v) }
            if let v = try checkout.integer("free_shipping_from", in: 0...1_000_000_000) { self.checkout.freeShippingFrom = Int64(v) }
            if let v = try checkout.integer("reservation_seconds", in: 1...86_400) { reservationSeconds = Int64(v) }
        }
        if let table = try reader.table("returns") {
            try table.allowOnly(["window_days", "refund_shipping"])
            if let v = try table.integer("window_days", in: 0...3650) { returns.windowDays = Int64(v) }
            if let v = try table.string("refund_shipping") {
                guard let policy = ReturnPolicy.ShippingRefund(rawValue: v) else {
                    throw ConfigError(key: "returns.refund_shipping", "must be one of \(ReturnPolicy.ShippingRefund.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), not \"\(v)\"")
                }
                returns.refundShipping = policy
            }
        }
        if let table = try reader.table("pos") {
            try table.allowOnly(["cash_rounding", "cashier_discount_limit_percent", "returns_without_receipt", "receipt_header", "session_hours"])
            if let v = try table.integer("cashier_discount_limit_percent", in: 0...100) { pos.cashierDiscountLimitPercent = Int64(v) }
            if let v = try table.bool("returns_without_receipt") { pos.returnsWithoutReceipt = v }
            if let v = try table.integer("session_hours", in: 1...24) { pos.sessionHours = Int64(v) }
            if let lines = try table.stringOrStrings("receipt_header") {
                guard lines.count <= 6, lines.allSatisfy({ (1...42).contains($0.count) && !$0.contains(where: \.isNewline) }) else {
                    throw ConfigError(key: "pos.receipt_header", "must be at most 6 lines of 1 to 42 characters")
                }
                pos.receiptHeader = lines
            }
            if let steps = try table.table("cash_rounding") {
                for (currency, _) in steps.table {
                    guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
                        throw ConfigError(key: steps.key(currency), "must be a currency code (three capital letters)")
                    }
                    if let step = try steps.integer(currency, in: 1...10_000) { pos.cashRounding.steps[currency] = Int64(step) }
                }
            }
        }
        if let inventory = try reader.table("inventory") {
            try inventory.allowOnly(["location"])
            if let v = try inventory.string("location") { stockLocation = try Self.name(v, key: "inventory.location") }
        }
        if let storefront = try reader.table("storefront") {
            try storefront.allowOnly(["name"])
            if let name = try storefront.string("name") {
                guard (1...80).contains(name.count), !name.contains(where: \.isNewline) else {
                    throw ConfigError(key: "storefront.name", "must be 1 to 80 characters on one line")
                }
                shopName = name
            }
        }
        if let database = try reader.table("database") {
            try database.allowOnly(["synchronous"])
            if let value = try database.string("synchronous") {
                guard let level = Database.Synchronous(rawValue: value.uppercased()), level != .off else {
                    throw ConfigError(key: "database.synchronous", "must be \"full\" or \"normal\", not \"\(value)\"")
                }
                synchronous = level
            }
        }
    }

    public mutating func apply(_ flags: NodeFlags) throws(ConfigError) {
        if let dir = flags.dataDirectory { dataDirectory = try Self.directory(dir, key: "--data-dir") }
        if !flags.listen.isEmpty {
            listen = try flags.listen.map { text throws(ConfigError) in try Self.address(text, key: "--listen") }
        }
        if let id = flags.nodeId { nodeId = try Self.name(id, key: "--node-id") }
        if let region = flags.region { self.region = try Self.name(region, key: "--region") }
        if let role = flags.role { self.role = try Self.role(role, key: "--role") }
        if let level = flags.logLevel { logLevel = try Self.level(level, key: "--log-level") }
    }

    private static func name(_ value: String, key: String) throws(ConfigError) -> String {
        guard isValidName(value) else {
            throw ConfigError(key: key, "\"\(value)\" is not a valid name (lowercase letters, digits and '-', 1-63 characters)")
        }
        return value
    }

    private static func role(_ value: String, key: String) throws(ConfigError) -> Role {
        guard let role = Role(rawValue: value) else {
            throw ConfigError(key: key, "must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(value)\"")
        }
        return role
    }

    private static func level(_ value: String, key: String) throws(ConfigError) -> LogLevel {
        guard let level = LogLevel(rawValue: value.lowercased()) else {
            throw ConfigError(key: key, "must be one of \(LogLevel.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(value)\"")
        }
        return level
    }

    private static func address(_ value: String, key: String) throws(ConfigError) -> SocketAddress {
        do { return try SocketAddress(parsing: value) } catch {
            throw ConfigError(key: key, "\"\(value)\" is not HOST:PORT with a numeric host, [IPv6]:PORT or localhost:PORT")
        }
    }

    private static func mailSettings(_ mail: TOMLReader) throws(ConfigError) -> MailSettings {
        try mail.allowOnly(["relay", "security", "username", "password_file", "from", "shop_name", "storefront_url", "ca_file", "timeout_s",
                            "first_retry_s", "max_retry_s", "give_up_after_s", "concurrent_max"])
        guard let relayText = try mail.string("relay") else { throw ConfigError(key: "mail.relay", "give the relay as HOST:PORT") }
        guard let colon = relayText.lastIndex(of: ":"), let port = UInt16(relayText[relayText.index(after: colon)...]), port > 0,
              !relayText[..<colon].isEmpty, !relayText.contains(where: { $0.isWhitespace }) else {
            throw ConfigError(key: "mail.relay", "must be HOST:PORT, not \"\(relayText)\"")
        }
        guard let from = try mail.string("from") else { throw ConfigError(key: "mail.from", "give the address mail comes from") }
        guard MailMessage.isAddress(from) else { throw ConfigError(key: "mail.from", "\"\(from)\" is not an email address") }
        var settings = MailSettings(relayHost: String(relayText[..<colon]).trimmingCharacters(in: ["[", "]"]), relayPort: port, from: from)
        if let text = try mail.string("security") {
            guard let security = SMTPRelay.Security(rawValue: text) else { throw ConfigError(key: "mail.security", "is starttls, tls or none, not \"\(text)\"") }
            settings.security = security
        }
        settings.username = try mail.string("username")
        if let file = try mail.string("password_file") { settings.passwordFile = try directory(file, key: "mail.password_file") }
        guard settings.username == nil || settings.security != .none else {
            throw ConfigError(key: "mail.username", "a password goes to the relay over TLS only: security starttls or tls")
        }
        if let name = try mail.string("shop_name") {
            guard !name.isEmpty, name.count <= 100, !name.contains(where: \.isNewline) else { throw ConfigError(key: "mail.shop_name", "one line of 1-100 characters") }
            settings.shopName = name
        }
        if let url = try mail.string("storefront_url") {
            guard url.hasPrefix("https://") || url.hasPrefix("http://"), !url.contains(where: { $0.isWhitespace }) else {
                throw ConfigError(key: "mail.storefront_url", "must be an http(s):// URL")
            }
            settings.storefrontURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        if let file = try mail.string("ca_file") { settings.caFile = try directory(file, key: "mail.ca_file") }
        if let v = try mail.integer("timeout_s", in: 1...300) { settings.timeoutMs = Int32(v) * 1000 }
        if let v = try mail.integer("first_retry_s", in: 1...3_600) { settings.retry.firstDelayMs = Int64(v) * 1000 }
        if let v = try mail.integer("max_retry_s", in: 1...86_400) { settings.retry.maxDelayMs = Int64(v) * 1000 }
        if let v = try mail.integer("give_up_after_s", in: 1...(30 * 86_400)) { settings.retry.giveUpAfterMs = Int64(v) * 1000 }
        guard settings.retry.maxDelayMs >= settings.retry.firstDelayMs else { throw ConfigError(key: "mail.max_retry_s", "must not be below first_retry_s") }
        if let v = try mail.integer("concurrent_max", in: 1...16) { settings.concurrentMax = v }
        return settings
    }

    private static func directory(_ value: String, key: String) throws(ConfigError) -> String {
        guard !value.isEmpty, !value.contains("\0") else { throw ConfigError(key: key, "must be a directory path") }
        return value
    }
}

/// Typed, key-checked access to one TOML table; every error names the full key.
struct TOMLReader {
    let table: TOMLTable
    let prefix: String

    func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// `text` as a TOML table, or where it stops being TOML.
    static func parse(_ text: String, source: String) throws(ConfigError) -> TOMLTable {
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(key: source, "not valid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch {
            throw ConfigError(key: source, "not valid TOML")
        }
    }

    func allowOnly(_ known: Set<String>) throws(ConfigError) {
        for (name, _) in table where !known.contains(name) {
            throw ConfigError(key: key(name), "unknown key (known here: \(known.sorted().joined(separator: ", ")))")
        }
    }

    func table(_ name: String) throws(ConfigError) -> TOMLReader? {
        guard let value = table[name] else { return nil }
        guard let sub = value.table else { throw ConfigError(key: key(name), "must be a table ([\(key(name))])") }
        return TOMLReader(table: sub, prefix: key(name))
    }

    func string(_ name: String) throws(ConfigError) -> String? {
        guard let value = table[name] else { return nil }
        guard let text = value.string else { throw ConfigError(key: key(name), "must be a string, not a \(value.type)") }
        return text
    }

    func bool(_ name: String) throws(ConfigError) -> Bool? {
        guard let value = table[name] else { return nil }
        guard let flag = value.bool else { throw ConfigError(key: key(name), "must be true or false, not a \(value.type)") }
        return flag
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let value = table[name] else { return nil }
        guard value.type == .int, let number = value.int else { throw ConfigError(key: key(name), "must be an integer, not a \(value.type)") }
        guard range.contains(number) else { throw ConfigError(key: key(name), "must be between \(range.lowerBound) and \(range.upperBound), not \(number)") }
        return number
    }

    /// An array of tables (`[[name]]`), empty if absent.
    func tables(_ name: String) throws(ConfigError) -> [TOMLReader] {
        guard let value = table[name] else { return [] }
        guard let array = value.array else { throw ConfigError(key: key(name), "must be an array of tables ([[\(key(name))]])") }
        var out: [TOMLReader] = []
        for (index, element) in array.enumerated() {
            guard let sub = element.table else { throw ConfigError(key: "\(key(name))[\(index)]", "must be a table") }
            out.append(TOMLReader(table: sub, prefix: "\(key(name))[\(index)]"))
        }
        return out
    }

    func stringOrStrings(_ name: String) throws(ConfigError) -> [String]? {
        guard let value = table[name] else { return nil }
        if let text = value.string { return [text] }
        guard let array = value.array else { throw ConfigError(key: key(name), "must be a string or an array of strings") }
        var out: [String] = []
        for element in array {
            guard let text = element.string else { throw ConfigError(key: key(name), "must be a string or an array of strings") }
            out.append(text)
        }
        return out
    }
}
