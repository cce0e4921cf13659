import Replication

/// A customer's rating and review of a product they bought: one per customer and product (its
/// key says so), written pending, shown once staff approve it.
///
///     pending ──approve──▶ approved ──reject──▶ rejected
///        └──────reject──────────────────────────▲ │
///                             approved ◀─approve──┘   (staff may change their mind; the last word wins)
///
/// Replicated as fields (last writer wins per field) in the `reviews` collection, region-wide;
/// approved ones also in `published_reviews`, fleet-wide, where the region shares them.
public struct Review: Equatable, Sendable {
    public enum Status: String, Sendable, CaseIterable {
        case pending, approved, rejected
    }

    public static let keyPrefix = "rv:"
    public static let titleCharactersMax = 100
    public static let textCharactersMax = 2000
    public static let authorCharactersMax = 40
    public static let replyCharactersMax = 1000

    public var product: String
    /// The customer's id (pseudonymous outside their region): what makes the review one per customer.
    public var customer: String
    /// 1 to 5 stars.
    public var rating: Int64
    public var title: String?
    public var text: String
    /// The name shown with it, the customer's choice ("Verified buyer" when none).
    public var author: String
    public var status: Status
    /// The store's public answer.
    public var reply: String?
    public var writtenMs: Int64
    /// The node it was written at.
    public var node: String
    /// Who moderated it last (a staff account), when.
    public var moderatedBy: String?
    public var moderatedMs: Int64?

    public init(product: String, customer: String, rating: Int64, title: String?, text: String, author: String, status: Status = .pending,
                reply: String? = nil, writtenMs: Int64, node: String) {
        self.product = product
        self.customer = customer
        self.rating = rating
        self.title = title
        self.text = text
        self.author = author
        self.status = status
        self.reply = reply
        self.writtenMs = writtenMs
        self.node = node
    }

    /// One review per customer and product, whichever node it is written at.
    public static func key(product: String, customer: String) -> String { keyPrefix + product + ":" + customer }

    public var key: String { Self.key(product: product, customer: customer) }

    public var fields: [String: FieldValue] {
        var fields: [String: FieldValue] = [
            "product": .text(product), "customer": .text(customer), "rating": .integer(rating), "text": .text(text), "author": .text(author),
            "status": .text(status.rawValue), "written_ms": .integer(writtenMs), "node": .text(node),
        ]
        if let title { fields["title"] = .text(title) }
        if let reply { fields["reply"] = .text(reply) }
        if let moderatedBy { fields["moderated_by"] = .text(moderatedBy) }
        if let moderatedMs { fields["moderated_ms"] = .integer(moderatedMs) }
        return fields
    }

    /// A review from replicated fields; nil for anything that is not a valid one (a peer's
    /// garbage, a key that does not match its product and customer): it is not shown.
    public init?(key: String, fields: [String: FieldValue]) {
        guard case .text(let product)? = fields["product"], case .text(let customer)? = fields["customer"], key == Self.key(product: product, customer: customer),
              case .integer(let rating)? = fields["rating"], (1...5).contains(rating), case .text(let text)? = fields["text"],
              case .text(let author)? = fields["author"], case .text(let statusText)? = fields["status"], let status = Status(rawValue: statusText),
              case .integer(let writtenMs)? = fields["written_ms"], case .text(let node)? = fields["node"] else { return nil }
        var title: String?, reply: String?
        if case .text(let value)? = fields["title"] { title = value }
        if case .text(let value)? = fields["reply"] { reply = value }
        guard Self.problems(rating: rating, title: title, text: text, author: author).isEmpty,
              (reply?.count ?? 0) <= Self.replyCharactersMax, Self.isPlainText(reply ?? "") else { return nil }
        self.init(product: product, customer: customer, rating: rating, title: title, text: text, author: author, status: status, reply: reply,
                  writtenMs: writtenMs, node: node)
        if case .text(let value)? = fields["moderated_by"] { moderatedBy = value }
        if case .integer(let value)? = fields["moderated_ms"] { moderatedMs = value }
    }

    /// Plain text only: no markup (a review is shown to every shopper of the product).
    public static func isPlainText(_ text: String) -> Bool {
        !text.contains("<") && !text.contains(">") && !text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" && $0 != "\r" && $0 != "\t" }
    }

    /// What is wrong with a review's fields, each named.
    public static func problems(rating: Int64?, title: String?, text: String?, author: String?) -> [FieldError] {
        var errors: [FieldError] = []
        if let rating { if !(1...5).contains(rating) { errors.append(FieldError("rating", "must be a whole number of stars from 1 to 5")) } }
        else { errors.append(FieldError("rating", "is required: 1 to 5 stars")) }
        func check(_ name: String, _ value: String?, max: Int, required: Bool, oneLine: Bool) {
            guard let value else { if required { errors.append(FieldError(name, "is required")) }; return }
            if value.trimmingWhitespace().isEmpty && required { errors.append(FieldError(name, "must not be empty")) }
            else if value.count > max { errors.append(FieldError(name, "must be at most \(max) characters (it has \(value.count))")) }
            else if !isPlainText(value) { errors.append(FieldError(name, "must be plain text: no HTML or other markup (no < or >)")) }
            else if oneLine && value.contains(where: \.isNewline) { errors.append(FieldError(name, "must be on one line")) }
        }
        check("title", title, max: titleCharactersMax, required: false, oneLine: true)
        check("text", text, max: textCharactersMax, required: true, oneLine: false)
        check("author", author, max: authorCharactersMax, required: false, oneLine: true)
        return errors
    }
}
