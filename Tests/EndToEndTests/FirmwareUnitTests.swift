import Foundation
import NodeTesting
import XCTest

/// What of the firmware image is checked on every CI run (the image itself boots in QEMU under
/// `make image-test`): its systemd units verify, noded's unit keeps its hardening, and the
/// provisioning script parses.
final class FirmwareUnitTests: XCTestCase {
    private let rootfs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("firmware-image/rootfs").path

    private func unit(_ name: String) throws -> String {
        try String(contentsOfFile: rootfs + "/usr/lib/systemd/system/" + name, encoding: .utf8)
    }

    /// `systemd-analyze verify` of every unit, with the binaries the image installs replaced by
    /// the ones this build made (verify checks that each ExecStart exists).
    func testTheImagesUnitsVerify() throws {
        let scratch = TemporaryDirectory()
        let names = try FileManager.default.contentsOfDirectory(atPath: rootfs + "/usr/lib/systemd/system").filter { $0.hasSuffix(".service") }.sorted()
        XCTAssertTrue(names.contains("noded.service") && names.contains("outpost-provision.service"), "\(names)")
        var paths: [String] = []
        for name in names {
            let text = try unit(name).replacingOccurrences(of: "/usr/bin/noded", with: Executables.path("noded"))
                .replacingOccurrences(of: "/usr/bin/nodectl", with: Executables.path("nodectl"))
                .replacingOccurrences(of: "/usr/lib/outpost/provision", with: rootfs + "/usr/lib/outpost/provision")
            paths.append(scratch.file(name))
            try text.write(toFile: paths.last ?? "", atomically: true, encoding: .utf8)
        }
        let verified = try runCommand("/usr/bin/systemd-analyze", ["verify", "--man=no"] + paths)
        XCTAssertEqual(verified.status, 0, verified.stderr)
        XCTAssertEqual(verified.stdout + verified.stderr, "", "no warning of any kind")
    }

    func testNodedRunsHardenedUnderAWatchdog() throws {
        let lines = Set(try unit("noded.service").split(separator: "\n").map(String.init))
        for wanted in ["Type=notify", "NotifyAccess=main", "WatchdogSec=30s", "User=outpost", "NoNewPrivileges=yes", "ProtectSystem=strict",
                       "ReadWritePaths=/var/lib/outpost", "PrivateTmp=yes", "CapabilityBoundingSet=", "SystemCallFilter=@system-service",
                       "Restart=on-failure", "MemoryDenyWriteExecute=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"] {
            XCTAssertTrue(lines.contains(wanted), "noded.service lost \(wanted)")
        }
        XCTAssertFalse(lines.contains { $0.hasPrefix("ReadWritePaths=") && $0 != "ReadWritePaths=/var/lib/outpost" }, "the data directory only")
    }

    func testTheProvisioningScriptParses() throws {
        let checked = try runCommand("/bin/sh", ["-n", rootfs + "/usr/lib/outpost/provision"])
        XCTAssertEqual(checked.status, 0, checked.stderr)
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: rootfs + "/usr/lib/outpost/provision"))
    }
}
