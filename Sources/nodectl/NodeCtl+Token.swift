import ArgumentParser
import Foundation
import HTTP
import Node

extension NodeCtl {
    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue an access token for staff roles (at most 15 minutes), for someone who should not hold the admin token.",
            discussion: """
                The token is good on every node of the region that holds the same auth.keys (the fleet's, from \
                `nodectl enroll`). Send it as 'Authorization: Bearer <token>'. Roles: cashier, store_manager, operator, \
                catalog_admin, hub_admin; each admin route lists the roles it takes (x-roles in /openapi.json).
                """)
        @OptionGroup var connection: NodeConnection
        @Option(name: .long, help: "Who the token is for (shown in the node's log).") var subject: String
        @Option(name: .long, help: "A role to grant; repeat for more.") var role: [String]
        @Option(name: .long, help: "Minutes until it expires, 1 to 15.") var minutes: Int64 = 15
        @Flag(name: .long, help: "Print the node's whole answer as JSON.") var json = false

        func run() throws {
            try reportingFailures {
                let body = try JSONCoding.encode(StaffTokenRequest(subject: subject, roles: role, minutes: minutes))
                let response = try connection.admin("POST", "/admin/v1/tokens", json: body)
                if json {
                    print(String(decoding: response.body, as: UTF8.self))
                } else {
                    let reply = try JSONCoding.decoder().decode(StaffTokenReply.self, from: Data(response.body))
                    print(reply.accessToken)
                }
            }
        }
    }
}
