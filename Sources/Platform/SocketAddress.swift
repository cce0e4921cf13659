import CLibUV
import Glibc

/// An IPv4 or IPv6 socket address, parsed from and printed as `HOST:PORT` (`[::1]:8080` for IPv6).
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    /// The numeric host, without brackets.
    public let host: String
    public let port: UInt16
    public var isIPv6: Bool { host.contains(":") }

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[V6]:PORT` or `localhost:PORT`. Names other than localhost are
    /// refused: a node listens on addresses, and DNS at start-up is a failure mode we don't need.
    public init(parsing text: String) throws(PlatformError) {
        let invalid = PlatformError(code: UV_EINVAL.rawValue, operation: "parse address \"\(text)\" (expected HOST:PORT)")
        var host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw invalid }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw invalid }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { throw invalid }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText), !host.isEmpty else { throw invalid }
        if host == "localhost" { host = "127.0.0.1" }
        self.host = String(host)
        self.port = port
        // Validate the numeric form now so later binds only fail for operating reasons.
        var storage = sockaddr_storage()
        guard Self.fill(&storage, host: self.host, port: port) else { throw invalid }
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Fills a `sockaddr_storage`; false if `host` is not a numeric address.
    static func fill(_ storage: inout sockaddr_storage, host: String, port: UInt16) -> Bool {
        withUnsafeMutableBytes(of: &storage) { raw in
            if host.contains(":") {
                let addr = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                return uv_ip6_addr(host, Int32(port), addr) == 0
            } else {
                let addr = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                return uv_ip4_addr(host, Int32(port), addr) == 0
            }
        }
    }

    /// Reads a `sockaddr` (as returned by getsockname/getpeername).
    static func from(_ storage: UnsafeRawPointer) -> SocketAddress? {
        let family = storage.assumingMemoryBound(to: sockaddr.self).pointee.sa_family
        var name = [CChar](repeating: 0, count: 64)
        if family == sa_family_t(AF_INET) {
            let addr = storage.assumingMemoryBound(to: sockaddr_in.self)
            uv_ip4_name(addr, &name, name.count)
            return SocketAddress(host: cString(name), port: UInt16(bigEndian: addr.pointee.sin_port))
        } else if family == sa_family_t(AF_INET6) {
            let addr = storage.assumingMemoryBound(to: sockaddr_in6.self)
            uv_ip6_name(addr, &name, name.count)
            return SocketAddress(host: cString(name), port: UInt16(bigEndian: addr.pointee.sin6_port))
        }
        return nil
    }
}

/// A NUL-terminated C buffer as a String.
func cString(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
