import CSQLite
import Glibc

/// Test harness only: SQLite's own failures on the Nth statement, for the I/O error sweep.
/// Switched on by `OUTPOST_FAULT_SWITCH`, the switch file the preloaded fault library reads
/// (Sources/OutpostFaults): while it holds `sqlite-ioerr-nth N`, `sqlite-full-nth N` or
/// `sqlite-busy-nth N`, the Nth statement started after the file appeared (a COMMIT included)
/// fails once, before SQLite runs it, with the code SQLite returns on a failed disk, a full one,
/// or a lock another process holds past the busy timeout; `<switch>.fired` is created then.
/// The syscall faults of the library cannot make SQLITE_BUSY, and they fail writes, not reads.
/// Without the variable the database holds none of this: one nil check per statement.
final class StatementFaults {
    private let path: String
    private var countedInode: ino_t = 0
    private var counted = 0

    init?(switchFile: String?) {
        guard let switchFile, !switchFile.isEmpty else { return nil }
        path = switchFile
    }

    /// The code `sql` fails with now, if any. A rollback never fails: it is how the code under
    /// test undoes the failure (a real ROLLBACK of a WAL transaction touches no disk).
    func failure(for sql: String) -> Int32? {
        guard !sql.hasPrefix("ROLLBACK") else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var word = [UInt8](repeating: 0, count: 48)
        let n = read(fd, &word, word.count - 1)
        var st = stat()
        guard n > 0, fstat(fd, &st) == 0 else { return nil }
        let text = String(decoding: word.prefix(n), as: UTF8.self)
        let codes: [(String, Int32)] = [("sqlite-ioerr-nth ", SQLITE_IOERR), ("sqlite-full-nth ", SQLITE_FULL), ("sqlite-busy-nth ", SQLITE_BUSY)]
        guard let (prefix, code) = codes.first(where: { text.hasPrefix($0.0) }),
              let nth = Int(text.dropFirst(prefix.count).prefix(while: \.isNumber)) else { return nil }
        if st.st_ino != countedInode { (countedInode, counted) = (st.st_ino, 0) }
        counted += 1
        guard counted == nth else { return nil }
        let fired = open(path + ".fired", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        if fired >= 0 { close(fired) }
        return code
    }
}
