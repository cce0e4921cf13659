import Foundation
import NodeTesting
import XCTest

/// `nodectl firmware check` on real RAUC bundles made here with test keys and the image's own
/// manifest template: a bundle signed by the keyring and intact passes; one altered after
/// signing, signed by another CA, made for another box, or cut short is refused before anything
/// could be written.
final class FirmwareBundleTests: XCTestCase {
    private func check(_ bundle: String, keyring: String) throws -> CommandResult {
        try runExecutable("nodectl", ["firmware", "check", bundle, "--keyring", keyring])
    }

    func testOnlyAnIntactBundleSignedByTheKeyringForThisBoxPasses() throws {
        try XCTSkipUnless(FirmwareFixtures.raucInstalled, "rauc is installed by .ci/setup")
        let scratch = TemporaryDirectory()
        let fixtures = FirmwareFixtures(scratch: scratch)
        let keyring = try fixtures.makeKeys("fleet") + "/ca.pem"
        try fixtures.makeKeys("other")
        let good = try fixtures.makeBundle(keys: scratch.file("fleet"), name: "good")

        let passed = try check(good, keyring: keyring)
        XCTAssertEqual(passed.status, 0, passed.stderr)
        XCTAssertTrue(passed.stdout.contains("version 0.2.0-test for outpost-x86_64, signed and intact"), passed.stdout)

        // One byte of the root changed after signing: the signature still verifies, the content does not.
        let altered = scratch.file("altered.raucb")
        try fixtures.alter(good, to: altered)
        let refusedAltered = try check(altered, keyring: keyring)
        XCTAssertNotEqual(refusedAltered.status, 0)
        XCTAssertTrue(refusedAltered.stderr.contains("altered after signing"), refusedAltered.stderr)

        let foreign = try fixtures.makeBundle(keys: scratch.file("other"), name: "foreign")
        let refusedForeign = try check(foreign, keyring: keyring)
        XCTAssertNotEqual(refusedForeign.status, 0)
        XCTAssertTrue(refusedForeign.stderr.contains("signature does not verify"), refusedForeign.stderr)

        let elsewhere = try fixtures.makeBundle(keys: scratch.file("fleet"), compatible: "outpost-aarch64", name: "elsewhere")
        let refusedElsewhere = try check(elsewhere, keyring: keyring)
        XCTAssertTrue(refusedElsewhere.stderr.contains("it is for \"outpost-aarch64\""), refusedElsewhere.stderr)

        let cut = scratch.file("cut.raucb")
        try Data(contentsOf: URL(fileURLWithPath: good)).prefix(4096).write(to: URL(fileURLWithPath: cut))
        XCTAssertNotEqual(try check(cut, keyring: keyring).status, 0)
        XCTAssertNotEqual(try check(scratch.file("none.raucb"), keyring: keyring).status, 0)
    }
}
