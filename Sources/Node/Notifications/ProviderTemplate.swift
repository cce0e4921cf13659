import Commerce
import HTTP
import Mustache
import Platform

/// An endpoint that is a provider's HTTP API (an SMS gateway, a push service) rather than a
/// receiver of the event JSON: the body is written from a Mustache template, with the headers
/// the provider wants (its API key). The view is the event's fields and the shopper's contact
/// (docs/notifications.md, "SMS and push"); values are escaped for the body's content type.
struct ProviderTemplate: Equatable, Sendable {
    enum ContentType: String, CaseIterable, Sendable {
        case json = "application/json"
        case form = "application/x-www-form-urlencoded"
        case text = "text/plain"

        /// The Mustache content type that escapes values for this body.
        var pragma: String {
            switch self {
            case .json: "{{% CONTENT_TYPE: OUTPOST_JSON}}"
            case .form: "{{% CONTENT_TYPE: OUTPOST_FORM}}"
            case .text: "{{% CONTENT_TYPE: TEXT}}"
            }
        }
    }

    var contentType: ContentType
    var headers: [Header]
    var body: String

    struct Header: Equatable, Sendable {
        var name: String
        var value: String
    }

    static let bodyBytesMax = 8 << 10
    static let headersMax = 16
    /// Set by the node, never by a template.
    static let reservedHeaders: Set<String> = ["host", "content-length", "content-type", "transfer-encoding", "connection",
                                               WebhookSignature.header.lowercased(), "outpost-event-id", "outpost-event-type", "outpost-delivery-attempt"]

    /// The template compiled, or why it is refused.
    func compiled() -> Result<MustacheTemplate, ValidationReason> {
        guard body.utf8.count <= Self.bodyBytesMax else { return .failure("template.body is over 8 KiB") }
        guard headers.count <= Self.headersMax else { return .failure("template.headers holds more than 16") }
        for header in headers {
            guard !header.name.isEmpty, header.name.utf8.allSatisfy({ Self.tokenByte($0) }), !Self.reservedHeaders.contains(header.name.lowercased()) else {
                return .failure(ValidationReason(stringLiteral: "template.headers: \"\(header.name)\" is not a header a template may set"))
            }
            guard header.value.utf8.count <= 4_096, !header.value.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) else {
                return .failure(ValidationReason(stringLiteral: "template.headers: the value of \(header.name) must be one line of at most 4,096 bytes"))
            }
        }
        ProviderTemplate.registerContentTypes
        do { return .success(try MustacheTemplate(string: contentType.pragma + body)) } catch {
            return .failure(ValidationReason(stringLiteral: "template.body does not parse as Mustache: \(error)"))
        }
    }

    private static func tokenByte(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
    }

    /// Once per process, before the first template compiles.
    private static let registerContentTypes: Void = {
        MustacheContentTypes.register(JSONStringContent(), named: "OUTPOST_JSON")
        MustacheContentTypes.register(FormContent(), named: "OUTPOST_FORM")
    }()

    /// Inside a JSON string: the value escaped, without the quotes (the template has them).
    struct JSONStringContent: MustacheContentType {
        func escapeText(_ text: String) -> String {
            var out: [UInt8] = []
            JSONText.appendString(text, to: &out)
            return String(decoding: out.dropFirst().dropLast(), as: UTF8.self)
        }
    }

    struct FormContent: MustacheContentType {
        func escapeText(_ text: String) -> String { PercentEncoding.encode(text) }
    }

    // MARK: Stored as JSON text in webhook_endpoints.template

    var stored: String {
        JSONValue.object([
            JSONMember("content_type", .string(contentType.rawValue)),
            JSONMember("headers", .array(headers.map { .array([.string($0.name), .string($0.value)]) })),
            JSONMember("body", .string(body)),
        ]).encodedText
    }

    init(contentType: ContentType, headers: [Header], body: String) {
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    /// From the admin API's `template` object or the stored text; nil with the reason.
    static func parse(_ json: LooseJSON) -> Result<ProviderTemplate, ValidationReason> {
        guard case .object(let members) = json else { return .failure("template must be an object {content_type, headers, body}") }
        guard case .string(let body)? = members["body"] else { return .failure("template.body is required (Mustache)") }
        var contentType = ContentType.json
        if let given = members["content_type"] {
            guard case .string(let text) = given, let type = ContentType(rawValue: text) else {
                return .failure(ValidationReason(stringLiteral: "template.content_type is one of \(ContentType.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
            contentType = type
        }
        var headers: [Header] = []
        switch members["headers"] {
        case nil, .null?: break
        case .object(let map)?:
            for (name, value) in map.sorted(by: { $0.key < $1.key }) {
                guard case .string(let text) = value else { return .failure("template.headers maps names to strings") }
                headers.append(Header(name: name, value: text))
            }
        case .array(let pairs)?:
            for pair in pairs {
                guard case .array(let two) = pair, two.count == 2, case .string(let name) = two[0], case .string(let value) = two[1] else {
                    return .failure("template.headers maps names to strings")
                }
                headers.append(Header(name: name, value: value))
            }
        default: return .failure("template.headers maps names to strings")
        }
        let template = ProviderTemplate(contentType: contentType, headers: headers, body: body)
        if case .failure(let reason) = template.compiled() { return .failure(reason) }
        return .success(template)
    }

    static func parse(stored text: String) -> ProviderTemplate? {
        guard let json = LooseJSON.parse(Array(text.utf8)), case .success(let template) = parse(json) else { return nil }
        return template
    }

    var jsonValue: JSONValue {
        .object([
            JSONMember("content_type", .string(contentType.rawValue)),
            JSONMember("headers", .object(headers.map { JSONMember($0.name, .string($0.value)) })),
            JSONMember("body", .string(body)),
        ])
    }
}
