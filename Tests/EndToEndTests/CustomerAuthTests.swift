import Foundation
import HTTP
import NodeTesting
import XCTest

/// Customers register, sign in, refresh and sign out against a real noded.
final class CustomerAuthTests: XCTestCase {
    private func start() throws -> NodeProcess {
        // A low password cost keeps the test quick; production uses 15 (README). The rate limit on
        // password routes (10 a minute per address) is raised: these tests are about the rest.
        try NodeProcess.start(config: "[node]\nid = \"shop\"\nregion = \"eu\"\n[auth]\npassword_cost = 10\n[rate_limits]\ncredentials_per_minute = 1000\ncredentials_total_per_second = 1000\n")
    }

    private func post(_ node: NodeProcess, _ path: String, _ body: String, token: String? = nil) throws -> (status: Int, json: [String: Any], headers: HTTPHeaders) {
        var headers = [("Content-Type", "application/json")]
        if let token { headers.append(("Authorization", "Bearer " + token)) }
        let response = try node.client().send("POST", path, headers: headers, body: Array(body.utf8))
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:], response.headers)
    }

    private func me(_ node: NodeProcess, token: String) throws -> (status: Int, json: [String: Any]) {
        let response = try node.client().get("/api/v1/me", headers: [("Authorization", "Bearer " + token)])
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:])
    }

    func testACustomerRegistersSignsInAndSeesTheirProfile() throws {
        let node = try start()
        let registered = try post(node, "/api/v1/auth/register", #"{"email": " Ann@Example.com ", "password": "correct horse", "name": "Ann Smith", "phone": "+44 20 7946 0000"}"#)
        XCTAssertEqual(registered.status, 201, "\(registered.json)")
        let access = try XCTUnwrap(registered.json["access_token"] as? String)
        XCTAssertNotNil(registered.json["refresh_token"] as? String)
        XCTAssertEqual(registered.json["expires_in"] as? Int, 900)
        let profile = try me(node, token: access)
        XCTAssertEqual(profile.status, 200)
        XCTAssertEqual(profile.json["email"] as? String, "ann@example.com")
        XCTAssertEqual(profile.json["name"] as? String, "Ann Smith")

        let again = try post(node, "/api/v1/auth/register", #"{"email": "ANN@example.com", "password": "another one"}"#)
        XCTAssertEqual(again.status, 409)
        XCTAssertEqual(again.json["type"] as? String, "/problems/email-taken")
        let bad = try post(node, "/api/v1/auth/register", #"{"email": "not-an-email", "password": "short", "phone": "call me"}"#)
        XCTAssertEqual(bad.status, 422)
        XCTAssertEqual(Set(((bad.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String }), ["email", "password", "phone"])

        let wrong = try post(node, "/api/v1/auth/sign-in", #"{"email": "ann@example.com", "password": "wrong horse"}"#)
        XCTAssertEqual(wrong.status, 401)
        XCTAssertEqual(wrong.json["type"] as? String, "/problems/sign-in-failed")
        let unknown = try post(node, "/api/v1/auth/sign-in", #"{"email": "nobody@example.com", "password": "correct horse"}"#)
        XCTAssertEqual(unknown.json["type"] as? String, "/problems/sign-in-failed", "an unknown email looks like a wrong password")
        let signedIn = try post(node, "/api/v1/auth/sign-in", #"{"email": "ANN@example.com", "password": "correct horse"}"#)
        XCTAssertEqual(signedIn.status, 200)
        XCTAssertEqual(try me(node, token: try XCTUnwrap(signedIn.json["access_token"] as? String)).json["id"] as? String,
                       profile.json["id"] as? String)

        XCTAssertEqual(try node.client().get("/api/v1/me").status, 401)
        let staff = try runExecutable("nodectl", ["token", "--data-dir", node.dataDirectory, "--subject", "bob", "--role", "operator"])
        XCTAssertEqual(try me(node, token: staff.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).status, 403, "a staff token is not a customer's")
    }

    func testTwoRegistrationsOfOneEmailAtOnceMakeOneAccount() throws {
        let node = try start()
        let body = #"{"email": "twin@example.com", "password": "correct horse"}"#
        let request = "POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        let sockets = try (0..<4).map { _ in try node.socket() }
        for socket in sockets { try socket.send(request) }
        let statuses = try sockets.map { socket in
            let reply = String(decoding: try socket.receiveUntilClosed(), as: UTF8.self)
            return Int(reply.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        XCTAssertEqual(statuses.sorted(), [201, 409, 409, 409], "\(statuses)")
    }

    func testARefreshTokenWorksOnceAndAReuseRevokesTheSession() throws {
        let node = try start()
        let registered = try post(node, "/api/v1/auth/register", #"{"email": "cy@example.com", "password": "correct horse"}"#)
        let first = try XCTUnwrap(registered.json["refresh_token"] as? String)
        let refreshed = try post(node, "/api/v1/auth/refresh", #"{"refresh_token": "\#(first)"}"#)
        XCTAssertEqual(refreshed.status, 200)
        let second = try XCTUnwrap(refreshed.json["refresh_token"] as? String)
        XCTAssertNotEqual(first, second)
        XCTAssertEqual(try me(node, token: try XCTUnwrap(refreshed.json["access_token"] as? String)).status, 200)

        let reused = try post(node, "/api/v1/auth/refresh", #"{"refresh_token": "\#(first)"}"#)
        XCTAssertEqual(reused.status, 401)
        XCTAssertEqual(reused.json["type"] as? String, "/problems/refresh-refused")
        XCTAssertEqual(try post(node, "/api/v1/auth/refresh", #"{"refresh_token": "\#(second)"}"#).status, 401, "the whole session is revoked")

        let signedIn = try post(node, "/api/v1/auth/sign-in", #"{"email": "cy@example.com", "password": "correct horse"}"#)
        let token = try XCTUnwrap(signedIn.json["refresh_token"] as? String)
        XCTAssertEqual(try post(node, "/api/v1/auth/sign-out", #"{"refresh_token": "\#(token)"}"#).status, 204)
        XCTAssertEqual(try post(node, "/api/v1/auth/refresh", #"{"refresh_token": "\#(token)"}"#).status, 401)
        XCTAssertEqual(try post(node, "/api/v1/auth/sign-out", #"{"refresh_token": "garbage"}"#).status, 204)
        XCTAssertEqual(try post(node, "/api/v1/auth/refresh", #"{"refresh_token": "garbage"}"#).status, 401)
    }

    func testRepeatedFailuresAreThrottled() throws {
        let node = try start()
        XCTAssertEqual(try post(node, "/api/v1/auth/register", #"{"email": "dee@example.com", "password": "correct horse"}"#).status, 201)
        // Three free failures, then waits of 1, 2, 4, 8 s: the attempts that fall inside a wait are
        // refused (429) without a password check. After eight attempts the wait is seconds long,
        // far more than the test takes.
        var statuses: [Int] = []
        for _ in 0..<8 {
            statuses.append(try post(node, "/api/v1/auth/sign-in", #"{"email": "dee@example.com", "password": "guess"}"#).status)
        }
        XCTAssertEqual(Array(statuses.prefix(4)), [401, 401, 401, 401])
        XCTAssertTrue(statuses.dropFirst(4).allSatisfy { $0 == 401 || $0 == 429 }, "\(statuses)")
        let throttled = try post(node, "/api/v1/auth/sign-in", #"{"email": "dee@example.com", "password": "correct horse"}"#)
        XCTAssertEqual(throttled.status, 429)
        XCTAssertEqual(throttled.json["type"] as? String, "/problems/sign-in-throttled")
        XCTAssertTrue((1...60).contains(Int(throttled.headers["retry-after"] ?? "") ?? 0), "\(throttled.headers["retry-after"] ?? "none")")
        XCTAssertEqual(try post(node, "/api/v1/auth/sign-in", #"{"email": "someone@example.com", "password": "x"}"#).status, 401,
                       "another account from the same address is not held up by this one's failures")
    }

    func testPersonalDataIsNeverInTheDatabaseOrLogInClear() throws {
        let node = try start()
        let registered = try post(node, "/api/v1/auth/register", #"{"email": "eve.unique@example.com", "password": "correct horse", "name": "Evangeline Quill"}"#)
        XCTAssertEqual(registered.status, 201)
        for file in ["node.sqlite", "node.sqlite-wal"] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: node.dataDirectory + "/" + file))
            for secret in ["eve.unique@example.com", "Evangeline Quill", "correct horse"] {
                XCTAssertNil(bytes.range(of: Data(secret.utf8)), "\(secret) in \(file)")
            }
        }
        let log = try String(contentsOfFile: node.logPath, encoding: .utf8)
        XCTAssertFalse(log.contains("eve.unique@example.com") || log.contains("Evangeline"))
    }

    private func send(_ node: NodeProcess, _ method: String, _ path: String, _ body: String, token: String) throws -> (status: Int, json: [String: Any]) {
        let response = try node.client().send(method, path, headers: [("Content-Type", "application/json"), ("Authorization", "Bearer " + token)],
                                              body: Array(body.utf8))
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:])
    }

    func testAProfileChangesAndAPasswordChangeSignsOtherDevicesOut() throws {
        let node = try start()
        let phone = try post(node, "/api/v1/auth/register", #"{"email": "fay@example.com", "password": "correct horse"}"#)
        let laptop = try post(node, "/api/v1/auth/sign-in", #"{"email": "fay@example.com", "password": "correct horse"}"#)
        let access = try XCTUnwrap(phone.json["access_token"] as? String)

        let changed = try send(node, "PATCH", "/api/v1/me", """
            {"name": "Fay Ng", "phone": "+49 30 1234567", "addresses": [{"label": "home", "line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}]}
            """, token: access)
        XCTAssertEqual(changed.status, 200, "\(changed.json)")
        let profile = try me(node, token: access).json
        XCTAssertEqual(profile["name"] as? String, "Fay Ng")
        XCTAssertEqual((profile["addresses"] as? [[String: Any]])?.first?["city"] as? String, "Berlin")
        let bad = try send(node, "PATCH", "/api/v1/me", #"{"addresses": [{"line1": "x", "country": "Germany"}], "email": "new@example.com"}"#, token: access)
        XCTAssertEqual(bad.status, 422)
        XCTAssertEqual(Set(((bad.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String }),
                       ["email", "addresses[0].city", "addresses[0].postal_code", "addresses[0].country"])
        XCTAssertEqual(try me(node, token: access).json["name"] as? String, "Fay Ng", "a refused change changes nothing")
        XCTAssertEqual(try send(node, "PATCH", "/api/v1/me", #"{"name": null}"#, token: access).json["name"] as? String, nil)

        XCTAssertEqual(try send(node, "POST", "/api/v1/me/password", #"{"current_password": "wrong", "new_password": "battery staple"}"#, token: access).status, 403)
        let renewed = try send(node, "POST", "/api/v1/me/password", #"{"current_password": "correct horse", "new_password": "battery staple"}"#, token: access)
        XCTAssertEqual(renewed.status, 200)
        let laptopRefresh = try XCTUnwrap(laptop.json["refresh_token"] as? String)
        XCTAssertEqual(try post(node, "/api/v1/auth/refresh", #"{"refresh_token": "\#(laptopRefresh)"}"#).status, 401, "the other device is signed out")
        let kept = try XCTUnwrap(renewed.json["refresh_token"] as? String)
        XCTAssertEqual(try post(node, "/api/v1/auth/refresh", #"{"refresh_token": "\#(kept)"}"#).status, 200, "this device goes on")
        XCTAssertEqual(try post(node, "/api/v1/auth/sign-in", #"{"email": "fay@example.com", "password": "correct horse"}"#).status, 401)
        XCTAssertEqual(try post(node, "/api/v1/auth/sign-in", #"{"email": "fay@example.com", "password": "battery staple"}"#).status, 200)
    }

    func testAPasswordResetTokenIssuedByTheStoreSetsANewPasswordAndIsNeverLogged() throws {
        let node = try start()
        XCTAssertEqual(try post(node, "/api/v1/auth/register", #"{"email": "gus@example.com", "password": "correct horse"}"#).status, 201)
        XCTAssertEqual(try post(node, "/api/v1/auth/password-reset", #"{"email": "nobody@example.com"}"#).status, 202, "no account: the same answer")
        XCTAssertEqual(try post(node, "/api/v1/auth/password-reset", #"{"email": "GUS@example.com"}"#).status, 202)
        // Until mail delivery exists a manager who has checked who is asking issues the token.
        let issued = try runExecutable("nodectl", ["customers", "reset-token", "--email", "gus@example.com", "--data-dir", node.dataDirectory])
        XCTAssertEqual(issued.status, 0, issued.stderr)
        let reset = try XCTUnwrap(issued.stdout.split(separator: "\n").last.map(String.init))
        let unknown = try runExecutable("nodectl", ["customers", "reset-token", "--email", "nobody@example.com", "--data-dir", node.dataDirectory])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("no account"), unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("the node at \(node.baseURL) answered 404"), "nodectl names the node it asked: \(unknown.stderr)")
        XCTAssertTrue(eventually { node.log.contains("password reset token issued") })
        XCTAssertFalse(node.log.contains(reset), "the token is never in the log")
        XCTAssertFalse(node.log.contains(String(reset.split(separator: ".").last ?? "")), "nor its secret")
        XCTAssertEqual(try post(node, "/api/v1/auth/password-reset/confirm", #"{"token": "\#(reset)x", "new_password": "battery staple"}"#).status, 400)
        XCTAssertEqual(try post(node, "/api/v1/auth/password-reset/confirm", #"{"token": "\#(reset)", "new_password": "battery staple"}"#).status, 204)
        let again = try post(node, "/api/v1/auth/password-reset/confirm", #"{"token": "\#(reset)", "new_password": "other staple"}"#)
        XCTAssertEqual(again.status, 400)
        XCTAssertEqual(again.json["type"] as? String, "/problems/reset-refused")
        XCTAssertEqual(try post(node, "/api/v1/auth/sign-in", #"{"email": "gus@example.com", "password": "battery staple"}"#).status, 200)
    }

    func testErasureRemovesThePersonalDataAndFreesTheEmail() throws {
        let node = try start()
        let registered = try post(node, "/api/v1/auth/register", #"{"email": "hal@example.com", "password": "correct horse", "name": "Hal"}"#)
        let access = try XCTUnwrap(registered.json["access_token"] as? String), id = try XCTUnwrap((registered.json["customer"] as? [String: Any])?["id"] as? String)
        XCTAssertEqual(try send(node, "DELETE", "/api/v1/me", #"{"password": "wrong"}"#, token: access).status, 403)
        XCTAssertEqual(try send(node, "DELETE", "/api/v1/me", #"{"password": "correct horse"}"#, token: access).status, 204)
        XCTAssertEqual(try me(node, token: access).status, 401, "the token died with its customer")
        XCTAssertEqual(try post(node, "/api/v1/auth/sign-in", #"{"email": "hal@example.com", "password": "correct horse"}"#).status, 401)
        let refresh = try XCTUnwrap(registered.json["refresh_token"] as? String)
        XCTAssertEqual(try post(node, "/api/v1/auth/refresh", #"{"refresh_token": "\#(refresh)"}"#).status, 401)
        let state = try node.adminJSON("/admin/v1/replicated/customers/customer:\(id)")
        XCTAssertEqual(Set((((state["state"] as? [String: Any])?["fields"] as? [String: Any]) ?? [:]).keys), ["created", "erased", "sessions_after"], "\(state)")
        let anew = try post(node, "/api/v1/auth/register", #"{"email": "hal@example.com", "password": "a new start"}"#)
        XCTAssertEqual(anew.status, 201, "the email is free again")
        XCTAssertNotEqual((anew.json["customer"] as? [String: Any])?["id"] as? String, id)
    }
}

/// Accounts across a fleet: known on every node of their region, never in another region.
final class CustomerRegionTests: XCTestCase {
    private func post(_ node: NodeProcess, _ path: String, _ body: String) throws -> (status: Int, json: [String: Any]) {
        let response = try node.client().send("POST", path, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:])
    }

    func testAnAccountMadeOnOneNodeSignsInOnTheOthersOfItsRegionOnly() throws {
        let fleet = try TestFleet()
        let fast = "[auth]\npassword_cost = 10\n"
        let hub = try fleet.start("hub", region: "eu", role: "hub", extra: fast)
        let eu = try fleet.start("store-eu", region: "eu", peers: [("hub", "eu", hub.syncAddress ?? "")], extra: fast)
        let us = try fleet.start("store-us", region: "us", peers: [("hub", "eu", hub.syncAddress ?? "")], extra: fast)

        let registered = try post(eu, "/api/v1/auth/register", #"{"email": "ida@example.com", "password": "correct horse", "name": "Ida"}"#)
        XCTAssertEqual(registered.status, 201)
        let access = try XCTUnwrap(registered.json["access_token"] as? String)
        XCTAssertTrue(eventually { try self.post(hub, "/api/v1/auth/sign-in", #"{"email": "ida@example.com", "password": "correct horse"}"#).status == 200 },
                      "the account reaches the region's other node")
        let profile = try hub.client().get("/api/v1/me", headers: [("Authorization", "Bearer " + access)])
        XCTAssertEqual(profile.status, 200, "a token from one node of the region is good on another")

        // A refresh spent on the hub is spent on the store too.
        let first = try XCTUnwrap(registered.json["refresh_token"] as? String)
        XCTAssertEqual(try post(hub, "/api/v1/auth/refresh", #"{"refresh_token": "\#(first)"}"#).status, 200)
        XCTAssertTrue(eventually { try self.post(eu, "/api/v1/auth/refresh", #"{"refresh_token": "\#(first)"}"#).status == 401 })

        XCTAssertEqual(try post(us, "/api/v1/auth/sign-in", #"{"email": "ida@example.com", "password": "correct horse"}"#).status, 401,
                       "another region never holds the account")
        XCTAssertEqual(try us.client().get("/api/v1/me", headers: [("Authorization", "Bearer " + access)]).status, 401, "nor accepts its token")
        XCTAssertEqual(try us.replicatedSummary()["customers"]?.applied ?? [:], [:])
    }
}
