import CLibUV
import Glibc

/// What a `TCPStream` tells its owner. All calls come on the loop thread.
public protocol TCPStreamDelegate: AnyObject {
    /// Bytes arrived. They live only for the duration of the call: copy what you keep.
    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer)
    /// The peer closed its side (`error` nil) or the connection failed.
    func streamDidEnd(_ stream: TCPStream, error: PlatformError?)
    /// Every queued write has reached the kernel.
    func streamDidDrain(_ stream: TCPStream)
    /// The handle is closed; no further calls follow.
    func streamDidClose(_ stream: TCPStream)
}

/// One TCP connection: reads into the loop's shared buffer, writes with `uv_try_write` first and
/// queues only what the kernel did not take, so the common small response costs one syscall.
///
/// Backpressure: `queuedWriteBytes` says how much is waiting for the kernel; owners stop reading
/// (`stopReading()`) while it is above their high-water mark and resume on `streamDidDrain`.
public final class TCPStream: LoopHandle {
    public var delegate: (any TCPStreamDelegate)?
    /// Bytes handed to `write` that the kernel has not accepted yet.
    public private(set) var queuedWriteBytes = 0
    public private(set) var isReading = false
    public private(set) var peerAddress: SocketAddress?
    /// The peer closed its side, or the connection failed: nothing more will be read.
    public private(set) var hasEnded = false

    init(loop: EventLoop) throws(PlatformError) {
        super.init(loop: loop, type: UV_TCP)
        try PlatformError.check(uv_tcp_init(loop.raw, tcp), "create connection")
        adopt()
    }

    /// Opens an outgoing connection; `completion` gets the connected stream or the error.
    public static func connect(
        loop: EventLoop, to address: SocketAddress,
        completion: @escaping (Result<TCPStream, PlatformError>) -> Void
    ) {
        let stream: TCPStream
        do { stream = try TCPStream(loop: loop) } catch { completion(.failure(error)); return }
        let request = ConnectRequest(stream: stream, completion: completion)
        var storage = sockaddr_storage()
        guard SocketAddress.fill(&storage, host: address.host, port: address.port) else {
            stream.close()
            completion(.failure(PlatformError(code: UV_EINVAL.rawValue, operation: "connect to \(address)")))
            return
        }
        request.raw.pointee.data = Unmanaged.passRetained(request).toOpaque()
        let status = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { addr in
                uv_tcp_connect(request.raw, stream.tcp, addr) { raw, status in
                    let request = Unmanaged<ConnectRequest>.fromOpaque(raw!.pointee.data!).takeRetainedValue()
                    if status < 0 {
                        request.stream.close()
                        request.completion(.failure(PlatformError(code: status, operation: "connect")))
                    } else {
                        request.stream.didConnect()
                        request.completion(.success(request.stream))
                    }
                }
            }
        }
        if status < 0 {
            Unmanaged<ConnectRequest>.fromOpaque(request.raw.pointee.data!).release()
            stream.close()
            completion(.failure(PlatformError(code: status, operation: "connect to \(address)")))
        }
    }

    var tcp: UnsafeMutablePointer<uv_tcp_t> { storage.assumingMemoryBound(to: uv_tcp_t.self) }
    private var stream: UnsafeMutablePointer<uv_stream_t> { outpost_uv_tcp_as_stream(tcp) }

    func didConnect() {
        // Small responses go out at once; there is nothing to gain from Nagle on request/response.
        uv_tcp_nodelay(tcp, 1)
        var peer = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(tcp, $0, &length) }
        }
        if status == 0 {
            peerAddress = withUnsafePointer(to: &peer) { SocketAddress.from(UnsafeRawPointer($0)) }
        }
    }

    public func startReading() {
        guard !isReading, !isClosing else { return }
        isReading = true
        uv_read_start(stream, { handle, _, buf in
            let loop = EventLoop.from(handle!.pointee.loop)
            buf!.pointee = uv_buf_init(loop.readBuffer.assumingMemoryBound(to: CChar.self), UInt32(EventLoop.readBufferBytes))
        }, { raw, nread, buf in
            let owner = LoopHandle.owner(UnsafeMutableRawPointer(raw), as: TCPStream.self)
            owner.onRead(nread, buf!.pointee)
        })
    }

    public func stopReading() {
        guard isReading, !isClosing else { return }
        isReading = false
        uv_read_stop(stream)
    }

    private func onRead(_ nread: Int, _ buf: uv_buf_t) {
        if nread > 0 {
            delegate?.streamDidRead(self, UnsafeRawBufferPointer(start: buf.base, count: nread))
        } else if nread < 0 {
            stopReading()
            reportEnd(nread == Int(UV_EOF.rawValue) ? nil : PlatformError(code: Int32(nread), operation: "read"))
        }
        // nread == 0 is EAGAIN: nothing to do.
    }

    private func reportEnd(_ error: PlatformError?) {
        guard !hasEnded else { return }
        hasEnded = true
        delegate?.streamDidEnd(self, error: error)
    }

    /// Writes bytes, in order with every earlier write. The bytes are copied if the kernel does not
    /// take them at once, so the caller's buffer may be reused on return.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosing, bytes.count > 0 else { return }
        var offset = 0
        if queuedWriteBytes == 0 {
            var buf = uv_buf_init(UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: CChar.self)), UInt32(bytes.count))
            let written = uv_try_write(stream, &buf, 1)
            if written == bytes.count { return }
            if written > 0 {
                offset = Int(written)
            } else if written != UV_EAGAIN.rawValue && written != UV_ENOSYS.rawValue {
                reportEnd(PlatformError(code: written, operation: "write"))
                return
            }
        }
        let pending = PendingWrite(stream: self, bytes: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        queuedWriteBytes += pending.count
        pending.request.pointee.data = Unmanaged.passRetained(pending).toOpaque()
        var buf = uv_buf_init(pending.buffer.assumingMemoryBound(to: CChar.self), UInt32(pending.count))
        let status = uv_write(pending.request, stream, &buf, 1) { request, status in
            let pending = Unmanaged<PendingWrite>.fromOpaque(request!.pointee.data!).takeRetainedValue()
            pending.stream.onWriteDone(pending.count, status)
        }
        if status < 0 {
            Unmanaged<PendingWrite>.fromOpaque(pending.request.pointee.data!).release()
            queuedWriteBytes -= pending.count
            reportEnd(PlatformError(code: status, operation: "write"))
        }
    }

    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    private func onWriteDone(_ count: Int, _ status: Int32) {
        queuedWriteBytes -= count
        precondition(queuedWriteBytes >= 0, "write accounting went negative")
        if status < 0 {
            if status != UV_ECANCELED.rawValue { reportEnd(PlatformError(code: status, operation: "write")) }
            return
        }
        if queuedWriteBytes == 0 && !isClosing { delegate?.streamDidDrain(self) }
    }

    /// Half-closes: sends FIN after queued writes; reading continues (lingering close).
    public func shutdownWrites() {
        guard !isClosing else { return }
        let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        let status = uv_shutdown(request, stream) { request, _ in request?.deallocate() }
        if status < 0 { request.deallocate() }
    }

    override func didClose() {
        let delegate = self.delegate
        self.delegate = nil
        delegate?.streamDidClose(self)
    }
}

/// One `uv_write` in flight and the copy of its bytes.
private final class PendingWrite {
    let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    let buffer: UnsafeMutableRawPointer
    let count: Int
    let stream: TCPStream

    init(stream: TCPStream, bytes: UnsafeRawBufferPointer) {
        self.stream = stream
        count = bytes.count
        buffer = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 1)
        buffer.copyMemory(from: bytes.baseAddress!, byteCount: count)
    }

    deinit {
        request.deallocate()
        buffer.deallocate()
    }
}

private final class ConnectRequest {
    let raw = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
    let stream: TCPStream
    let completion: (Result<TCPStream, PlatformError>) -> Void

    init(stream: TCPStream, completion: @escaping (Result<TCPStream, PlatformError>) -> Void) {
        self.stream = stream
        self.completion = completion
    }

    deinit { raw.deallocate() }
}
