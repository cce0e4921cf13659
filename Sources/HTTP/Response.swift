import Foundation

/// An HTTP response. Bodies are bytes; serialization adds `Date`, `Content-Length`,
/// `X-Request-Id` and connection management.
public struct Response: Sendable {
    public var status: Int
    public var contentType: String?
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Close the connection after this response (errors that leave the stream unusable).
    public var closesConnection: Bool

    public init(status: Int = 200, contentType: String? = nil, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], closesConnection: Bool = false) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
        self.closesConnection = closesConnection
    }

    public static let jsonContentType = "application/json"
    public static let problemContentType = "application/problem+json"

    /// JSON from a Codable value (snake_case keys, sorted, ISO 8601 dates).
    public static func json<T: Encodable>(_ value: T, status: Int = 200) -> Response {
        do {
            return Response(status: status, contentType: jsonContentType, body: try JSONCoding.encode(value))
        } catch {
            // Our own response types always encode; reaching this is a bug in one of them.
            preconditionFailure("response failed to encode: \(error)")
        }
    }

    /// JSON that is already encoded (cached bodies).
    public static func json(bytes: [UInt8], status: Int = 200) -> Response {
        Response(status: status, contentType: jsonContentType, body: bytes)
    }

    public static func json(_ value: JSONValue, status: Int = 200) -> Response {
        Response(status: status, contentType: jsonContentType, body: value.encoded())
    }

    public static func text(_ text: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, contentType: contentType, body: Array(text.utf8))
    }

    public static func noContent() -> Response { Response(status: 204) }

    public static func problem(_ problem: Problem) -> Response {
        var response = Response(status: problem.status, contentType: problemContentType, body: problem.encoded())
        response.closesConnection = problem.type.closesConnection
        return response
    }
}

/// The project's one JSON convention: snake_case keys, sorted for stable output, ISO 8601 dates.
public enum JSONCoding {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        Array(try encoder().encode(value))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decoder().decode(type, from: Data(bytes))
    }

    /// A decoding error as a sentence naming the field, without echoing the value.
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "the body does not match the expected shape" }
        func path(_ keys: [any CodingKey]) -> String {
            keys.isEmpty ? "the body" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is required"
        case .typeMismatch(_, let context): return "\(path(context.codingPath)) has the wrong type"
        case .valueNotFound(_, let context): return "\(path(context.codingPath)) must not be null"
        case .dataCorrupted(let context): return "\(path(context.codingPath)) is invalid"
        @unknown default: return "the body does not match the expected shape"
        }
    }
}
