import Foundation
import NodeTesting
import Platform
import XCTest

/// A box's first boot as the operator and the box do it: `nodectl provision make` writes the
/// folder for a USB stick, `nodectl provision apply` (outpost-provision.service) turns it into
/// the node's configuration and enrollment, and noded starts on it. A folder that does not
/// check changes nothing; no folder at all leaves the node on its embedded defaults, which it
/// says.
final class ProvisioningTests: XCTestCase {
    private func makeFolder(_ scratch: TemporaryDirectory, nodeId: String = "store-17", extra: [String] = []) throws -> String {
        XCTAssertEqual(try runExecutable("nodectl", ["fleet", "init", "--dir", scratch.file("ca")]).status, 0)
        let out = scratch.file("usb")
        let made = try runExecutable("nodectl", ["provision", "make", "--ca-dir", scratch.file("ca"), "--out", out, "--node-id", nodeId,
                                                 "--region", "eu", "--role", "store", "--peer", "hub@eu@127.0.0.1:7443"] + extra)
        XCTAssertEqual(made.status, 0, made.stderr)
        return out
    }

    /// The NODED_ARGS outpost-provision.service leaves for noded.service, as arguments.
    private func nodedArguments(_ state: String) throws -> [String] {
        let env = try String(contentsOfFile: state + "/noded.env", encoding: .utf8)
        XCTAssertTrue(env.hasPrefix("NODED_ARGS="), env)
        return env.dropFirst("NODED_ARGS=".count).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    func testAProvisionedBoxRunsAsTheNodeItsFolderNames() throws {
        let scratch = TemporaryDirectory()
        let usb = try makeFolder(scratch, extra: ["--ssh-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@example"])
        let state = scratch.file("state")
        let applied = try runExecutable("nodectl", ["provision", "apply", "--from", scratch.file("no-stick"), "--from", usb, "--state-dir", state])
        XCTAssertEqual(applied.status, 0, applied.stderr)
        XCTAssertTrue(applied.stdout.contains("provisioned store-17"), applied.stdout)
        XCTAssertEqual(try String(contentsOfFile: state + "/ssh/authorized_keys", encoding: .utf8), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@example\n")
        let again = try runExecutable("nodectl", ["provision", "apply", "--from", usb, "--state-dir", state])
        XCTAssertTrue(again.stdout.contains("already provisioned"), "a box is provisioned once")

        // noded as noded.service starts it (a test port instead of 0.0.0.0:8080: flags win over the file).
        let args = try nodedArguments(state)
        XCTAssertEqual(args, ["--config", state + "/noded.toml"])
        let node = try NodeProcess.start(dataDirectory: state + "/data", arguments: args + ["--listen", "127.0.0.1:0"])
        let status = try runExecutable("nodectl", ["status", "--data-dir", node.dataDirectory])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("store-17") && status.stdout.contains(state + "/noded.toml"), status.stdout)
        let toml = try String(contentsOfFile: usb + "/outpost-provision.toml", encoding: .utf8)
        let token = try XCTUnwrap(toml.split(separator: "\n").first { $0.hasPrefix("admin_token") }?.split(separator: "\"").dropFirst().first)
        XCTAssertEqual(try node.client().get("/admin/v1/status", headers: [("Authorization", "Bearer \(token)")]).status, 200,
                       "the operator's token from the folder is the node's admin token")
        XCTAssertEqual(try node.stop(), 0)
    }

    func testWithoutAFolderTheBoxRunsOnEmbeddedDefaultsAndSaysSo() throws {
        let scratch = TemporaryDirectory()
        let state = scratch.file("state")
        let applied = try runExecutable("nodectl", ["provision", "apply", "--from", scratch.file("no-stick"), "--state-dir", state])
        XCTAssertEqual(applied.status, 0, applied.stderr)
        XCTAssertTrue(applied.stdout.contains("embedded defaults"), applied.stdout)
        let args = try nodedArguments(state)
        XCTAssertEqual(args, ["--data-dir", state + "/data", "--listen", "0.0.0.0:8080"])
        let node = try NodeProcess.start(dataDirectory: state + "/data", arguments: ["--listen", "127.0.0.1:0"])
        let status = try runExecutable("nodectl", ["status", "--data-dir", node.dataDirectory])
        XCTAssertTrue(status.stdout.contains("embedded defaults (not provisioned)"), status.stdout)
        XCTAssertEqual(try node.stop(), 0)
        XCTAssertTrue(try String(contentsOfFile: node.logPath, encoding: .utf8).contains("running on embedded defaults"))
    }

    /// Each bad folder is refused with what is wrong, exit 2, and the box's state untouched.
    func testAFolderThatDoesNotCheckChangesNothing() throws {
        let scratch = TemporaryDirectory()
        let usb = try makeFolder(scratch)
        let file = usb + "/outpost-provision.toml"
        let good = try String(contentsOfFile: file, encoding: .utf8)
        let sameFleet = scratch.file("store-99")
        XCTAssertEqual(try runExecutable("nodectl", ["enroll", "--ca-dir", scratch.file("ca"), "--data-dir", sameFleet, "--node-id", "store-99",
                                                     "--region", "eu"]).status, 0)
        let otherFleet = TemporaryDirectory()
        _ = try makeFolder(otherFleet)
        let cases: [(String, (inout String) throws -> Void, String)] = [
            ("no node id", { $0 = $0.replacingOccurrences(of: "id = \"store-17\"\n", with: "") }, "node.id: is required"),
            ("a data_dir of its own", { $0 = $0.replacingOccurrences(of: "[node]\n", with: "[node]\ndata_dir = \"/tmp/x\"\n") }, "node.data_dir"),
            ("a short admin token", { text in
                text = text.split(separator: "\n", omittingEmptySubsequences: false)
                    .map { $0.hasPrefix("admin_token") ? "admin_token = \"short\"" : String($0) }.joined(separator: "\n")
            }, "provision.admin_token"),
            ("a bad ssh key", { $0 = $0.replacingOccurrences(of: "ssh_authorized_keys = []", with: #"ssh_authorized_keys = ["hello"]"#) }, "ssh_authorized_keys[0]"),
            ("an enrollment outside the folder", { $0 = $0.replacingOccurrences(of: #"enrollment = "enrollment""#, with: #"enrollment = "../usb/enrollment""#) },
             "provision.enrollment"),
            ("an unknown provision key", { $0 += "wifi = \"on\"\n" }, "provision"),
            ("a bad noded setting", { $0 = "[http]\nconnections_max = 0\n" + $0 }, "http.connections_max"),
            ("another node's certificate", { _ in
                try FileManager.default.removeItem(atPath: usb + "/enrollment/node.crt")
                try FileManager.default.copyItem(atPath: sameFleet + "/node.crt", toPath: usb + "/enrollment/node.crt")
            }, "names store-99"),
            ("another fleet's certificate", { _ in
                try FileManager.default.removeItem(atPath: usb + "/enrollment/node.crt")
                try FileManager.default.copyItem(atPath: otherFleet.file("usb/enrollment/node.crt"), toPath: usb + "/enrollment/node.crt")
            }, "not a valid certificate signed by ca.crt"),
            ("not TOML", { $0 = "[node\n" }, "not valid TOML"),
        ]
        for (what, breakIt, expected) in cases {
            var text = good
            let certificate = try Data(contentsOf: URL(fileURLWithPath: usb + "/enrollment/node.crt"))
            try breakIt(&text)
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            let state = scratch.file("state-" + what.replacingOccurrences(of: " ", with: "-"))
            let applied = try runExecutable("nodectl", ["provision", "apply", "--from", usb, "--state-dir", state])
            XCTAssertEqual(applied.status, 2, "\(what): \(applied.stdout) \(applied.stderr)")
            XCTAssertTrue(applied.stderr.contains(expected) && applied.stderr.contains("nothing was changed"), "\(what): \(applied.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: state), "\(what): nothing written")
            try certificate.write(to: URL(fileURLWithPath: usb + "/enrollment/node.crt"))
        }
    }
}
