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
                .replacingOccurrences(of: "/usr/lib/outpost/", with: rootfs + "/usr/lib/outpost/")
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

    func testTheBoxsScriptsParse() throws {
        for script in ["provision", "mark-good", "boot-slots", "grow-data"] {
            let checked = try runCommand("/bin/sh", ["-n", rootfs + "/usr/lib/outpost/" + script])
            XCTAssertEqual(checked.status, 0, "\(script): \(checked.stderr)")
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: rootfs + "/usr/lib/outpost/" + script), script)
        }
    }

    /// RAUC's boot loader backend over systemd-boot entries, on an ESP laid out as the image
    /// lays it out: an install makes the new slot primary on probation; systemd-boot's count
    /// down to no tries makes it bad (and so sorted after the previous slot); marking fixes names.
    func testBootSlotsPutsAnInstalledSlotOnProbationAndABadOneLast() throws {
        let scratch = TemporaryDirectory()
        let entries = scratch.file("esp/loader/entries")
        try FileManager.default.createDirectory(atPath: entries, withIntermediateDirectories: true)
        try "title Outpost 1 (slot A)\nlinux /a/vmlinuz\nsort-key outpost-0\n".write(toFile: entries + "/outpost-a.conf", atomically: true, encoding: .utf8)
        try "title Outpost 2 (slot B)\nlinux /b/vmlinuz\n".write(toFile: entries + "/outpost-b.conf", atomically: true, encoding: .utf8)
        func slots(_ arguments: String...) throws -> String {
            var environment = ProcessInfo.processInfo.environment
            environment["OUTPOST_ESP"] = scratch.file("esp")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: rootfs + "/usr/lib/outpost/boot-slots")
            process.arguments = arguments
            process.environment = environment
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, arguments.joined(separator: " "))
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: entries).sorted() }

        XCTAssertEqual(try slots("get-primary"), "a")
        _ = try slots("set-primary", "b")
        XCTAssertEqual(try names(), ["outpost-a.conf", "outpost-b+1.conf"], "one try on probation")
        XCTAssertEqual(try slots("get-primary"), "b")
        XCTAssertTrue(try String(contentsOfFile: entries + "/outpost-a.conf", encoding: .utf8).contains("sort-key outpost-1"))
        XCTAssertEqual(try slots("get-state", "b"), "good", "on probation")
        // systemd-boot booted it once and it never reached mark-good: no tries left.
        try FileManager.default.moveItem(atPath: entries + "/outpost-b+1.conf", toPath: entries + "/outpost-b+0-1.conf")
        XCTAssertEqual(try slots("get-state", "b"), "bad")
        _ = try slots("set-state", "b", "good")
        XCTAssertEqual(try names(), ["outpost-a.conf", "outpost-b.conf"])
        _ = try slots("set-state", "a", "bad")
        XCTAssertEqual(try names(), ["outpost-a+0.conf", "outpost-b.conf"])
        XCTAssertEqual(try slots("get-state", "a"), "bad")
    }
}
