import CLibUV
import Glibc

/// A listening TCP socket; every accepted connection is handed over as a `TCPStream`.
public final class TCPListener: LoopHandle {
    /// The address actually bound; with port 0 this holds the port the kernel picked.
    public private(set) var localAddress: SocketAddress
    private var onConnection: ((TCPStream) -> Void)?
    /// Accept failures are counted, not fatal: EMFILE under load must not stop the node.
    public private(set) var acceptErrors = 0

    /// Binds and listens. If this throws, no callback is ever called.
    public init(
        loop: EventLoop, address: SocketAddress, backlog: Int32 = 511,
        onConnection: @escaping (TCPStream) -> Void
    ) throws(PlatformError) {
        localAddress = address
        self.onConnection = onConnection
        super.init(loop: loop, type: UV_TCP)
        try PlatformError.check(uv_tcp_init(loop.raw, raw), "create listener")
        adopt()
        var storage = sockaddr_storage()
        guard SocketAddress.fill(&storage, host: address.host, port: address.port) else {
            close()
            throw PlatformError(code: UV_EINVAL.rawValue, operation: "listen on \(address)")
        }
        // A v6 listener serves v6 only, so "[::]:p" and "0.0.0.0:p" can be listened on side by side.
        let flags: UInt32 = address.isIPv6 ? UInt32(UV_TCP_IPV6ONLY.rawValue) : 0
        var status = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(raw, $0, flags) }
        }
        if status == 0 {
            status = uv_listen(outpost_uv_tcp_as_stream(raw), backlog) { server, status in
                LoopHandle.owner(UnsafeMutableRawPointer(server), as: TCPListener.self).onAccept(status)
            }
        }
        if status < 0 {
            close()
            throw PlatformError(code: status, operation: "listen on \(address)")
        }
        var bound = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = uv_tcp_getsockname(raw, $0, &length) }
        }
        localAddress = withUnsafePointer(to: &bound) { SocketAddress.from(UnsafeRawPointer($0)) } ?? address
    }

    private var raw: UnsafeMutablePointer<uv_tcp_t> { storage.assumingMemoryBound(to: uv_tcp_t.self) }

    private func onAccept(_ status: Int32) {
        guard status >= 0, !isClosing else { acceptErrors += 1; return }
        let stream: TCPStream
        do { stream = try TCPStream(loop: loop) } catch { acceptErrors += 1; return }
        let accepted = uv_accept(outpost_uv_tcp_as_stream(raw), outpost_uv_tcp_as_stream(stream.tcp))
        guard accepted == 0 else {
            acceptErrors += 1
            stream.close()
            return
        }
        stream.didConnect()
        onConnection?(stream)
    }

    override func didClose() { onConnection = nil }
}
