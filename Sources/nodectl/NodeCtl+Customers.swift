import ArgumentParser
import Foundation

extension NodeCtl {
    struct Customers: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "customers",
            abstract: "Customers' accounts: issue a password reset token to hand to an account's owner.",
            subcommands: [ResetToken.self])
    }
}

extension NodeCtl.Customers {
    /// Until mail delivery exists, a reset token reaches its owner through the store: printed here,
    /// never written to a log.
    struct ResetToken: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-token",
            abstract: "Issue a password reset token (30 minutes) for the account with this email; give it only to its owner.",
            discussion: "The owner sets a new password with POST /api/v1/auth/password-reset/confirm {token, new_password}; every device is signed out.")
        @OptionGroup var connection: NodeConnection
        @Option(name: .long, help: "The account's email.") var email: String

        func validate() throws {
            guard email.contains("@"), email.utf8.count <= 254 else { throw ValidationError("--email: an email address") }
        }

        func run() throws {
            try reportingFailures {
                let data = try JSONSerialization.data(withJSONObject: ["email": email])
                let reply = try jsonObject(try connection.admin("POST", "/admin/v1/customers/password-reset", json: Array(data)))
                print("Reset token for \(email) (customer \(reply["customer"] as? String ?? "?")), good until \(reply["expires_at"] as? String ?? "?"):")
                print(reply["reset_token"] as? String ?? "")
            }
        }
    }
}
