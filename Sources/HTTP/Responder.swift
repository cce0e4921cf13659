/// The way to answer one request, now or later. Exactly one of `send` or `fail` must be called,
/// once; answering twice is a bug and trips a precondition.
public struct Responder {
    /// The connection the request came on; nil for a request dispatched within the process.
    let connection: HTTPConnection?
    let sequence: UInt64
    /// Where an in-process request's answer goes (`HTTPServer.dispatch`).
    let local: LocalAnswer?

    init(connection: HTTPConnection, sequence: UInt64) {
        self.connection = connection
        self.sequence = sequence
        local = nil
    }

    init(local: LocalAnswer) {
        connection = nil
        sequence = 0
        self.local = local
    }

    public func send(_ response: Response) {
        if let connection { connection.complete(sequence, response) } else { local?.send(response) }
    }

    /// Answers with a thrown error: an `HTTPError` becomes its problem, anything else a 500
    /// (logged with the request id, never shown to the client).
    public func fail(_ error: any Error) {
        if let connection { connection.fail(sequence, error) } else { local?.fail(error) }
    }

    /// Sends what `make` returns, or fails with what it throws.
    public func answer(_ make: () throws -> Response) {
        do { send(try make()) } catch { fail(error) }
    }
}

/// The answer of a request dispatched within the process: handed to its completion once.
final class LocalAnswer {
    private var completion: ((Response) -> Void)?
    private let request: Request
    private let onInternalError: (Request, any Error) -> Void

    init(request: Request, onInternalError: @escaping (Request, any Error) -> Void, completion: @escaping (Response) -> Void) {
        self.request = request
        self.onInternalError = onInternalError
        self.completion = completion
    }

    func send(_ response: Response) {
        precondition(completion != nil, "a request was answered twice")
        let answer = completion
        completion = nil
        answer?(response)
    }

    func fail(_ error: any Error) {
        send(Response.failure(error, method: request.method, path: request.path, requestId: request.requestId, onInternalError: onInternalError))
    }
}

extension Response {
    /// What a handler's thrown error answers: an `HTTPError` its problem (and headers), anything
    /// else a 500 that names the request id and is reported, never shown.
    static func failure(_ error: any Error, method: String, path: String, requestId: String,
                        onInternalError: (Request, any Error) -> Void) -> Response {
        var problem: Problem
        var headers = HTTPHeaders()
        if let error = HTTPError.of(error) {
            problem = error.problem
            headers = error.headers
        } else {
            problem = Problem(.internalError, detail: "the node failed to handle this request; see its log for request \(requestId)")
            onInternalError(Request(method: method, target: path, requestId: requestId), error)
        }
        problem.instance = path
        problem.requestId = requestId
        var response = Response.problem(problem)
        for field in headers { response.headers.add(field.name, field.value) }
        return response
    }
}
