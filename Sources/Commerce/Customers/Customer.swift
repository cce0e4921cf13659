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

    public init(id: String, email: String, name: String? = nil, phone: String? = nil, passwordHash: String, createdMs: Int64) {
        self.id = id
        self.email = email
        self.name = name
        self.phone = phone
        self.passwordHash = passwordHash
        self.createdMs = createdMs
    }

    public static func normalizedEmail(_ email: String) -> String {
        email.trimmingWhitespace().lowercased()
    }
}

/// How customers sit in the region-scoped `customers` collection, field-level LWW maps like the
/// catalog's:
///
///     customer:<id>   email, name, phone (sealed), password (PHC string), created (ms)
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

    private let keys: KeyRing

    public init(dataKeys: KeyRing) {
        keys = dataKeys
    }

    /// The key of the entry that maps `email` (normalised) to its account. Derived from the
    /// ring's first key, so that one stays in the ring while rotations add newer ones.
    public func emailKey(_ email: String) -> String {
        let indexKey = HMACSHA256.authenticate(Array("outpost/customers/email-index".utf8), key: keys.keys[0].secret)
        return Self.emailPrefix + Hex.encode(HMACSHA256.authenticate(Array(Customer.normalizedEmail(email).utf8), key: indexKey))
    }

    public func fields(of customer: Customer) -> [String: FieldValue] {
        var fields: [String: FieldValue] = [
            "email": seal(customer.email, field: "email", of: customer.id),
            "password": .text(customer.passwordHash),
            "created": .integer(customer.createdMs),
        ]
        if let name = customer.name { fields["name"] = seal(name, field: "name", of: customer.id) }
        if let phone = customer.phone { fields["phone"] = seal(phone, field: "phone", of: customer.id) }
        return fields
    }

    /// The customer an entry's fields hold; nil if it holds none, or its sealed fields do not open
    /// with this region's keys.
    public func customer(id: String, from fields: [String: FieldValue]) -> Customer? {
        guard let sealedEmail = fields["email"], let email = open(sealedEmail, field: "email", of: id),
              case .text(let password)? = fields["password"], case .integer(let created)? = fields["created"] else { return nil }
        return Customer(id: id, email: email, name: fields["name"].flatMap { open($0, field: "name", of: id) },
                        phone: fields["phone"].flatMap { open($0, field: "phone", of: id) }, passwordHash: password, createdMs: created)
    }

    /// `KEY-ID.BASE64URL(box)`: the key id lets a rotated ring still open older values.
    private func seal(_ text: String, field: String, of id: String) -> FieldValue {
        let key = keys.newest
        let box = SealedBox.seal(Array(text.utf8), key: Self.sealingKey(key.secret), context: Self.context(field: field, of: id))
        return .text(key.id + "." + Base64.encode(box, url: true, padded: false))
    }

    private func open(_ value: FieldValue, field: String, of id: String) -> String? {
        guard case .text(let text) = value, let dot = text.firstIndex(of: "."), let key = keys.key(id: String(text[..<dot])),
              let box = Base64.decode(String(text[text.index(after: dot)...]), url: true),
              let plain = SealedBox.open(box, key: Self.sealingKey(key.secret), context: Self.context(field: field, of: id)) else { return nil }
        return String(validating: plain, as: UTF8.self)
    }

    /// One secret, separate keys per use.
    private static func sealingKey(_ secret: [UInt8]) -> [UInt8] {
        HMACSHA256.authenticate(Array("outpost/customers/seal".utf8), key: secret)
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
