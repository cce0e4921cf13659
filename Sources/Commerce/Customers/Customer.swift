import Platform
import Replication

/// A shopper's account as its region's nodes hold it.
public struct Customer: Sendable, Equatable {
    public var id: String
    /// Normalised (trimmed, lower case).
    public var email: String
    public var name: String?
    public var phone: String?
    /// PHC string (PasswordHash.encoded).
    public var passwordHash: String
    public var createdMs: Int64
    public var addresses: [Address] = []
    /// Refresh sessions made before this are refused: a password change or reset signs every
    /// other device out.
    public var sessionsAfterMs: Int64 = 0
    /// A password reset waiting: SHA-256 (hex) of its token's secret, and until when it works.
    public var pendingReset: (hash: String, expiresMs: Int64)?

    public init(id: String, email: String, name: String? = nil, phone: String? = nil, passwordHash: String, createdMs: Int64) {
        self.id = id
        self.email = email
        self.name = name
        self.phone = phone
        self.passwordHash = passwordHash
        self.createdMs = createdMs
    }

    public static func == (a: Customer, b: Customer) -> Bool {
        a.id == b.id && a.email == b.email && a.name == b.name && a.phone == b.phone && a.passwordHash == b.passwordHash
            && a.createdMs == b.createdMs && a.addresses == b.addresses && a.sessionsAfterMs == b.sessionsAfterMs
            && a.pendingReset?.hash == b.pendingReset?.hash && a.pendingReset?.expiresMs == b.pendingReset?.expiresMs
    }

    public static func normalizedEmail(_ email: String) -> String {
        email.trimmingWhitespace().lowercased()
    }

    /// Whether a (normalised) email looks like one: a local part, a domain with a dot, no spaces
    /// or control characters, 254 bytes at most.
    public static func isEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        // On UTF-8 bytes: Foundation's `contains` for strings cost more than the rest of the check.
        let dot = UInt8(ascii: ".")
        return email.utf8.count <= 254 && parts.count == 2 && !parts[0].isEmpty
            && parts[1].utf8.contains(dot) && parts[1].utf8.first != dot && parts[1].utf8.last != dot
            && !email.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 })
    }
}

/// A postal address of a customer's.
public struct Address: Sendable, Equatable, Codable {
    public var label: String?
    public var name: String?
    public var line1: String
    public var line2: String?
    public var city: String
    public var postalCode: String
    /// ISO 3166-1 alpha-2, upper case.
    public var country: String

    public init(label: String? = nil, name: String? = nil, line1: String, line2: String? = nil, city: String, postalCode: String, country: String) {
        self.label = label
        self.name = name
        self.line1 = line1
        self.line2 = line2
        self.city = city
        self.postalCode = postalCode
        self.country = country
    }

    /// An ISO 3166-1 alpha-2 code as addresses carry it: two capital letters.
    public static func isCountry(_ code: String) -> Bool { code.count == 2 && code.allSatisfy { $0.isASCII && $0.isUppercase } }

    /// JSON text (for sealing as one field).
    var json: [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        func member(_ name: String, _ value: String) {
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(name, to: &out)
            out.append(UInt8(ascii: ":"))
            JSONText.appendString(value, to: &out)
        }
        member("line1", line1)
        member("city", city)
        member("postal_code", postalCode)
        member("country", country)
        for (name, value) in [("label", label), ("name", name), ("line2", line2)] { if let value { member(name, value) } }
        out.append(UInt8(ascii: "}"))
        return out
    }

    public init?(_ json: LooseJSON) {
        guard case .object(let members) = json, case .string(let line1)? = members["line1"], case .string(let city)? = members["city"],
              case .string(let postalCode)? = members["postal_code"], case .string(let country)? = members["country"] else { return nil }
        func text(_ name: String) -> String? { if case .string(let value)? = members[name] { value } else { nil } }
        self.init(label: text("label"), name: text("name"), line1: line1, line2: text("line2"), city: city, postalCode: postalCode, country: country)
    }
}

/// How customers sit in the region-scoped `customers` collection, field-level LWW maps like the
/// catalog's:
///
///     customer:<id>   email, name, phone, addresses (sealed), password (PHC string), created (ms),
///                     sessions_after (ms), reset and reset_expires (a pending password reset);
///                     an erased account keeps only created and erased (ms)
///     email:<hmac>    customer (id): finds an account by its email without the email in clear
///     session:<id>    customer, current (SHA-256 of the refresh token's secret), expires (ms), revoked
///
/// Personal data is sealed (AES-256-GCM, SealedBox) under the region's data key before it
/// becomes a delta, bound to its key and field, so the op log and replicated state hold none in
/// clear; the email index is an HMAC under a key derived from the same region key.
public struct CustomerVault: Sendable {
    public typealias Entry = ORMap<String, LWWRegister<FieldValue>>

    public static let customerPrefix = "customer:"
    public static let emailPrefix = "email:"
    public static let sessionPrefix = "session:"

    /// One secret, separate keys per use, derived once: the email index's (from the ring's first
    /// key, so that one stays in the ring while rotations add newer ones) and, per key id, the
    /// sealing key.
    private let indexKey: [UInt8]
    private let sealingKeys: [String: [UInt8]]
    /// The newest key's id and sealing key: what seals.
    private let sealing: (id: String, key: [UInt8])

    public init(dataKeys: KeyRing) {
        indexKey = HMACSHA256.authenticate(Array("outpost/customers/email-index".utf8), key: dataKeys.keys[0].secret)
        sealingKeys = Dictionary(uniqueKeysWithValues: dataKeys.keys.map {
            ($0.id, HMACSHA256.authenticate(Array("outpost/customers/seal".utf8), key: $0.secret))
        })
        sealing = (dataKeys.newest.id, HMACSHA256.authenticate(Array("outpost/customers/seal".utf8), key: dataKeys.newest.secret))
    }

    /// The key of the entry that maps `email` (normalised) to its account.
    public func emailKey(_ email: String) -> String {
        Self.emailPrefix + Hex.encode(HMACSHA256.authenticate(Array(Customer.normalizedEmail(email).utf8), key: indexKey))
    }

    public func fields(of customer: Customer) -> [String: FieldValue] {
        var fields: [String: FieldValue] = [
            "email": seal(customer.email, field: "email", of: customer.id),
            "password": .text(customer.passwordHash),
            "created": .integer(customer.createdMs),
        ]
        if let name = customer.name { fields["name"] = seal(name, field: "name", of: customer.id) }
        if let phone = customer.phone { fields["phone"] = seal(phone, field: "phone", of: customer.id) }
        if !customer.addresses.isEmpty {
            var json: [UInt8] = [UInt8(ascii: "[")]
            for (index, address) in customer.addresses.enumerated() {
                if index > 0 { json.append(UInt8(ascii: ",")) }
                json += address.json
            }
            json.append(UInt8(ascii: "]"))
            fields["addresses"] = seal(String(decoding: json, as: UTF8.self), field: "addresses", of: customer.id)
        }
        if customer.sessionsAfterMs > 0 { fields["sessions_after"] = .integer(customer.sessionsAfterMs) }
        if let reset = customer.pendingReset {
            fields["reset"] = .text(reset.hash)
            fields["reset_expires"] = .integer(reset.expiresMs)
        }
        return fields
    }

    /// What an erased account keeps: when it was made and when it was erased. Orders name it by
    /// its id, which is now a pseudonym.
    public static func erasedFields(createdMs: Int64, erasedMs: Int64) -> [String: FieldValue] {
        ["created": .integer(createdMs), "erased": .integer(erasedMs), "sessions_after": .integer(erasedMs)]
    }

    /// The customer an entry's fields hold; nil if it holds none, or its sealed fields do not open
    /// with this region's keys.
    public func customer(id: String, from fields: [String: FieldValue]) -> Customer? {
        guard let sealedEmail = fields["email"], let email = open(sealedEmail, field: "email", of: id),
              case .text(let password)? = fields["password"], case .integer(let created)? = fields["created"] else { return nil }
        var customer = Customer(id: id, email: email, name: fields["name"].flatMap { open($0, field: "name", of: id) },
                                phone: fields["phone"].flatMap { open($0, field: "phone", of: id) }, passwordHash: password, createdMs: created)
        if let sealed = fields["addresses"], let text = open(sealed, field: "addresses", of: id), case .array(let items)? = LooseJSON.parse(Array(text.utf8)) {
            customer.addresses = items.compactMap(Address.init)
        }
        if case .integer(let after)? = fields["sessions_after"] { customer.sessionsAfterMs = after }
        if case .text(let hash)? = fields["reset"], case .integer(let expires)? = fields["reset_expires"] { customer.pendingReset = (hash, expires) }
        return customer
    }

    /// A password reset's token while its mail waits to be sent, sealed for this region and tied
    /// to that mail: the queue never holds a usable token in clear.
    public func sealMailSecret(_ secret: String, mail: String) -> String {
        seal(secret, context: Array("mail:\(mail)".utf8))
    }

    public func openMailSecret(_ sealed: String, mail: String) -> String? {
        open(sealed, context: Array("mail:\(mail)".utf8))
    }

    /// `KEY-ID.BASE64URL(box)`: the key id lets a rotated ring still open older values.
    private func seal(_ text: String, field: String, of id: String) -> FieldValue {
        .text(seal(text, context: Self.context(field: field, of: id)))
    }

    private func open(_ value: FieldValue, field: String, of id: String) -> String? {
        guard case .text(let text) = value else { return nil }
        return open(text, context: Self.context(field: field, of: id))
    }

    private func seal(_ text: String, context: [UInt8]) -> String {
        sealing.id + "." + Base64.encode(SealedBox.seal(Array(text.utf8), key: sealing.key, context: context), url: true, padded: false)
    }

    private func open(_ text: String, context: [UInt8]) -> String? {
        guard let dot = text.firstIndex(of: "."), let key = sealingKeys[String(text[..<dot])],
              let box = Base64.decode(String(text[text.index(after: dot)...]), url: true),
              let plain = SealedBox.open(box, key: key, context: context) else { return nil }
        return String(validating: plain, as: UTF8.self)
    }

    /// An order's email and shipping address, sealed for its `placed` event with a key of the
    /// order's own (`contactKey`). Orders replicate to every region and stay for the books; the
    /// key lives in this region's `customers` collection (`orderkey:<order id>`, itself sealed
    /// with the region's data key), and erasing the customer deletes it: without the key the
    /// contact can never be opened again (crypto-shredding).
    public static let orderKeyPrefix = "orderkey:"

    public static func newContactKey() -> [UInt8] { SecureRandom.bytes(32) }

    /// `shipTo` is nil for an order collected at a store.
    public func sealContact(email: String, shipTo: Address?, order: String, key: [UInt8]) -> String {
        var json: [UInt8] = Array(#"{"email":"#.utf8)
        JSONText.appendString(email, to: &json)
        if let shipTo { json += Array(#","ship_to":"#.utf8) + shipTo.json }
        json.append(UInt8(ascii: "}"))
        return Base64.encode(SealedBox.seal(json, key: key, context: Array(("order:" + order).utf8)), url: true, padded: false)
    }

    public func openContact(_ sealed: String, order: String, key: [UInt8]) -> (email: String, shipTo: Address?)? {
        guard let box = Base64.decode(sealed, url: true), let json = SealedBox.open(box, key: key, context: Array(("order:" + order).utf8)),
              case .object(let members)? = LooseJSON.parse(json), case .string(let email)? = members["email"] else { return nil }
        return (email, members["ship_to"].flatMap(Address.init))
    }

    /// The fields of `orderkey:<order>`: the order's contact key sealed with the region's key.
    public func contactKeyFields(_ key: [UInt8], order: String, customer: String?) -> [String: FieldValue] {
        var fields: [String: FieldValue] = ["key": .text(seal(Base64.encode(key, url: true, padded: false), context: Array((Self.orderKeyPrefix + order).utf8)))]
        if let customer { fields["customer"] = .text(customer) }
        return fields
    }

    public func contactKey(from fields: [String: FieldValue], order: String) -> [UInt8]? {
        guard case .text(let sealed)? = fields["key"], let text = open(sealed, context: Array((Self.orderKeyPrefix + order).utf8)) else { return nil }
        return Base64.decode(text, url: true)
    }

    private static func context(field: String, of id: String) -> [UInt8] { Array((customerPrefix + id + "/" + field).utf8) }
}

extension String {
    /// Without leading and trailing white space (Unicode's, newlines included).
    public func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let end = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[start...end])
    }
}
