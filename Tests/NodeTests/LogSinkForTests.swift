import Glibc
import Platform

enum LogSinkForTests {
    /// A sink writing to /dev/null.
    static let discard = LogSink(fd: open("/dev/null", O_WRONLY))
}
