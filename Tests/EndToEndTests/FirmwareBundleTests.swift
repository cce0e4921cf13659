import Foundation
import NodeTesting
import XCTest

/// `nodectl firmware check` on real RAUC bundles made here with test keys and the image's own
/// manifest template: a bundle signed by the keyring and intact passes; one altered after
/// signing, signed by another CA, made for another box, or cut short is refused before anything
/// could be written.
final class FirmwareBundleTests: XCTestCase {
    private let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    private func openssl(_ arguments: [String]) throws {
        let run = try runCommand("/usr/bin/openssl", arguments)
        XCTAssertEqual(run.status, 0, run.stderr)
    }

    /// A CA and a signing certificate under it, in `dir`: ca.pem, signing.pem, signing.key.
    private func makeKeys(_ dir: String, name: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/ca.key",
                     "-out", dir + "/ca.pem", "-days", "30", "-subj", "/CN=\(name) test firmware CA"])
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/signing.key",
                     "-out", dir + "/signing.csr", "-subj", "/CN=\(name) test firmware signing"])
        try "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n".write(toFile: dir + "/ext.cnf", atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", dir + "/signing.csr", "-CA", dir + "/ca.pem", "-CAkey", dir + "/ca.key", "-CAcreateserial",
                     "-out", dir + "/signing.pem", "-days", "30", "-extfile", dir + "/ext.cnf"])
    }

    /// A bundle of the image's manifest with a 2 MB stand-in root and its hook.
    private func makeBundle(_ scratch: TemporaryDirectory, keys: String, compatible: String = "outpost-x86_64", name: String) throws -> String {
        let content = scratch.file("content-" + name)
        try FileManager.default.createDirectory(atPath: content, withIntermediateDirectories: true)
        let manifest = try String(contentsOfFile: repo + "/firmware-image/bundle/manifest.raucm.in", encoding: .utf8)
            .replacingOccurrences(of: "@COMPATIBLE@", with: compatible).replacingOccurrences(of: "@VERSION@", with: "0.2.0-test")
        try manifest.write(toFile: content + "/manifest.raucm", atomically: true, encoding: .utf8)
        try Data((0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: content + "/root.squashfs"))
        try Data(repeating: 7, count: 8192).write(to: URL(fileURLWithPath: content + "/root-verity.img"))
        try FileManager.default.copyItem(atPath: repo + "/firmware-image/bundle/hook", toPath: content + "/hook")
        let bundle = scratch.file(name + ".raucb")
        let made = try runCommand("/usr/bin/rauc", ["bundle", "--cert", keys + "/signing.pem", "--key", keys + "/signing.key", content, bundle])
        XCTAssertEqual(made.status, 0, made.stderr)
        return bundle
    }

    private func check(_ bundle: String, keyring: String) throws -> CommandResult {
        try runExecutable("nodectl", ["firmware", "check", bundle, "--keyring", keyring])
    }

    func testOnlyAnIntactBundleSignedByTheKeyringForThisBoxPasses() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/rauc"), "rauc is installed by .ci/setup")
        let scratch = TemporaryDirectory()
        try makeKeys(scratch.file("fleet"), name: "fleet")
        try makeKeys(scratch.file("other"), name: "other")
        let keyring = scratch.file("fleet/ca.pem")
        let good = try makeBundle(scratch, keys: scratch.file("fleet"), name: "good")

        let passed = try check(good, keyring: keyring)
        XCTAssertEqual(passed.status, 0, passed.stderr)
        XCTAssertTrue(passed.stdout.contains("version 0.2.0-test for outpost-x86_64, signed and intact"), passed.stdout)

        // One byte of the root changed after signing: the signature still verifies, the content does not.
        let altered = scratch.file("altered.raucb")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        bytes[bytes.startIndex + 8192] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: altered))
        let refusedAltered = try check(altered, keyring: keyring)
        XCTAssertNotEqual(refusedAltered.status, 0)
        XCTAssertTrue(refusedAltered.stderr.contains("altered after signing"), refusedAltered.stderr)

        let foreign = try makeBundle(scratch, keys: scratch.file("other"), name: "foreign")
        let refusedForeign = try check(foreign, keyring: keyring)
        XCTAssertNotEqual(refusedForeign.status, 0)
        XCTAssertTrue(refusedForeign.stderr.contains("signature does not verify"), refusedForeign.stderr)

        let elsewhere = try makeBundle(scratch, keys: scratch.file("fleet"), compatible: "outpost-aarch64", name: "elsewhere")
        let refusedElsewhere = try check(elsewhere, keyring: keyring)
        XCTAssertTrue(refusedElsewhere.stderr.contains("it is for \"outpost-aarch64\""), refusedElsewhere.stderr)

        let cut = scratch.file("cut.raucb")
        try bytes.prefix(4096).write(to: URL(fileURLWithPath: cut))
        XCTAssertNotEqual(try check(cut, keyring: keyring).status, 0)
        XCTAssertNotEqual(try check(scratch.file("none.raucb"), keyring: keyring).status, 0)
    }
}
