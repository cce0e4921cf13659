import Foundation
import NodeTesting
import XCTest

/// Real RAUC bundles for tests, made with test keys and the image's own manifest template and
/// hook around a 2.5 MB stand-in root: what `make bundle` makes, small.
struct FirmwareFixtures {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var raucInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/rauc") }

    let scratch: TemporaryDirectory
    var rootBytes = 2_500_000

    private func openssl(_ arguments: [String]) throws {
        let run = try runCommand("/usr/bin/openssl", arguments)
        XCTAssertEqual(run.status, 0, run.stderr)
    }

    /// A CA and a signing certificate under it, in `scratch/name`: ca.pem, signing.pem, signing.key.
    @discardableResult
    func makeKeys(_ name: String) throws -> String {
        let dir = scratch.file(name)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/ca.key",
                     "-out", dir + "/ca.pem", "-days", "30", "-subj", "/CN=\(name) test firmware CA"])
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/signing.key",
                     "-out", dir + "/signing.csr", "-subj", "/CN=\(name) test firmware signing"])
        try "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n".write(toFile: dir + "/ext.cnf", atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", dir + "/signing.csr", "-CA", dir + "/ca.pem", "-CAkey", dir + "/ca.key", "-CAcreateserial",
                     "-out", dir + "/signing.pem", "-days", "30", "-extfile", dir + "/ext.cnf"])
        return dir
    }

    /// A bundle signed with the keys in `keys`, named `name.raucb` in the scratch directory.
    func makeBundle(keys: String, version: String = "0.2.0-test", compatible: String = "outpost-x86_64", name: String) throws -> String {
        let content = scratch.file("content-" + name)
        try FileManager.default.createDirectory(atPath: content, withIntermediateDirectories: true)
        let manifest = try String(contentsOfFile: Self.repo + "/firmware-image/bundle/manifest.raucm.in", encoding: .utf8)
            .replacingOccurrences(of: "@COMPATIBLE@", with: compatible).replacingOccurrences(of: "@VERSION@", with: version)
        try manifest.write(toFile: content + "/manifest.raucm", atomically: true, encoding: .utf8)
        // Random, like a compressed root: the bundle stays as large as its content (several chunks
        // on a sync link).
        let random = try XCTUnwrap(FileHandle(forReadingAtPath: "/dev/urandom"))
        try random.readData(ofLength: rootBytes).write(to: URL(fileURLWithPath: content + "/root.squashfs"))
        try random.close()
        try Data(repeating: 7, count: 8192).write(to: URL(fileURLWithPath: content + "/root-verity.img"))
        try FileManager.default.copyItem(atPath: Self.repo + "/firmware-image/bundle/hook", toPath: content + "/hook")
        let bundle = scratch.file(name + ".raucb")
        let made = try runCommand("/usr/bin/rauc", ["bundle", "--cert", keys + "/signing.pem", "--key", keys + "/signing.key", content, bundle])
        XCTAssertEqual(made.status, 0, made.stderr)
        return bundle
    }

    /// A copy of `bundle` with one byte of its content flipped after signing.
    func alter(_ bundle: String, to path: String, at offset: Int = 8192) throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: bundle))
        bytes[bytes.startIndex + offset] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: path))
    }
}
