import CZstd

/// zstd compression with a hard bound on what decompression may produce, so a small hostile
/// frame cannot expand into gigabytes.
public enum Zstd {
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The output would exceed the caller's bound.
        case tooLarge(boundBytes: Int)
        /// Not a zstd frame, corrupt, or cut short.
        case corrupt(String)

        public var description: String {
            switch self {
            case .tooLarge(let bound): return "decompressed data exceeds \(bound) bytes"
            case .corrupt(let why): return "corrupt zstd data: \(why)"
            }
        }
    }

    public static let defaultLevel: Int32 = 3

    public static func compress(_ input: [UInt8], level: Int32 = defaultLevel) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = input.withUnsafeBytes { src in
            output.withUnsafeMutableBytes { dst in
                ZSTD_compress(dst.baseAddress, dst.count, src.baseAddress, src.count, level)
            }
        }
        // With a destination of ZSTD_compressBound bytes compression cannot fail but for a bug.
        precondition(ZSTD_isError(written) == 0, "zstd compress: \(String(cString: ZSTD_getErrorName(written)))")
        output.removeLast(bound - written)
        return output
    }

    /// Decompresses one or more concatenated frames, failing as soon as output passes `maxOutputBytes`.
    public static func decompress(_ input: [UInt8], maxOutputBytes: Int) throws(Failure) -> [UInt8] {
        guard let stream = ZSTD_createDStream() else { preconditionFailure("zstd: out of memory") }
        defer { ZSTD_freeDStream(stream) }
        ZSTD_initDStream(stream)
        let chunkBytes = ZSTD_DStreamOutSize()
        var chunk = [UInt8](repeating: 0, count: chunkBytes)
        var output: [UInt8] = []
        var lastHint = 0
        var failure: Failure?
        input.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            var inBuffer = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
            while true {
                var outBuffer = ZSTD_outBuffer()
                let hint = chunk.withUnsafeMutableBytes { dst in
                    outBuffer = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                    return ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
                }
                if ZSTD_isError(hint) != 0 {
                    failure = .corrupt(String(cString: ZSTD_getErrorName(hint)))
                    return
                }
                let produced = outBuffer.pos
                if output.count + produced > maxOutputBytes {
                    failure = .tooLarge(boundBytes: maxOutputBytes)
                    return
                }
                output.append(contentsOf: chunk[0..<produced])
                lastHint = hint
                // Keep going while input remains or the decoder still holds output for us.
                if inBuffer.pos == inBuffer.size && produced < chunkBytes { return }
            }
        }
        if let failure { throw failure }
        if input.isEmpty { throw .corrupt("empty input") }
        // A non-zero hint at the end means the last frame is incomplete.
        if lastHint != 0 { throw .corrupt("truncated frame") }
        return output
    }
}
