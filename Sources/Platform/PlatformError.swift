import CLibUV
import Glibc

/// An operating failure from libuv or the C library: what was attempted and why it failed.
///
/// Errors that can only come from a bug (a bad argument we passed) are not thrown; they trip a
/// precondition where they are detected.
public struct PlatformError: Error, CustomStringConvertible, Equatable {
    /// libuv's negative error code (`UV_E*`), or a negated errno for plain C calls.
    public let code: Int32
    /// The operation that failed, e.g. "listen on 127.0.0.1:8080".
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// Builds an error from the current `errno` of a failed C call.
    public static func errno(_ operation: String) -> PlatformError {
        PlatformError(code: -Glibc.errno, operation: operation)
    }

    /// A short human reason, e.g. "address already in use".
    public var reason: String { String(cString: uv_strerror(code)) }

    /// The symbolic name, e.g. "EADDRINUSE".
    public var name: String { String(cString: uv_err_name(code)) }

    public var description: String { "\(operation): \(reason)" }
}

extension PlatformError {
    /// Throws when a libuv call returned a negative status.
    @inline(__always)
    static func check(_ status: Int32, _ operation: @autoclosure () -> String) throws(PlatformError) {
        if status < 0 { throw PlatformError(code: status, operation: operation()) }
    }
}
