/// The way to answer one request, now or later. Exactly one of `send` or `fail` must be called,
/// once; answering twice is a bug and trips a precondition.
public struct Responder {
    let connection: HTTPConnection
    let sequence: UInt64

    public func send(_ response: Response) {
        connection.complete(sequence, response)
    }

    /// Answers with a thrown error: an `HTTPError` becomes its problem, anything else a 500
    /// (logged with the request id, never shown to the client).
    public func fail(_ error: any Error) {
        connection.fail(sequence, error)
    }

    /// Sends what `make` returns, or fails with what it throws.
    public func answer(_ make: () throws -> Response) {
        do { send(try make()) } catch { fail(error) }
    }
}
