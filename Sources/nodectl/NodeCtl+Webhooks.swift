import ArgumentParser
import Foundation
import HTTP
import Platform

extension NodeCtl {
    struct Webhooks: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Webhook endpoints: register, list, remove, rotate a secret; deliveries given up, and retrying them.",
            subcommands: [List.self, Add.self, Remove.self, Rotate.self, Failed.self, Retry.self], defaultSubcommand: List.self)
    }

    struct Notifications: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The node's notifications.", subcommands: [Status.self], defaultSubcommand: Status.self)

        struct Status: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Endpoints, deliveries by state, and what was sent, retried and given up since start.")
            @OptionGroup var connection: NodeConnection
            @Flag(name: .long, help: "Print JSON.") var json = false

            func run() throws {
                try reportingFailures {
                    let status = try connection.getAdmin("/admin/v1/notifications/status", as: NotificationStatus.self)
                    if json { return print(String(decoding: try JSONCoding.encode(status), as: UTF8.self)) }
                    let w = status.webhooks
                    print("Webhooks: \(w.endpoints) endpoint\(w.endpoints == 1 ? "" : "s"); deliveries pending \(w.pending), delivered \(w.delivered), given up \(w.dead); in flight \(w.inFlight)")
                    print("Since start: sent \(w.sinceStart.sent), retried \(w.sinceStart.retried), given up \(w.sinceStart.dead)")
                    let m = status.mail
                    if m.configured {
                        print("Mail: pending \(m.pending), sent \(m.sent), given up \(m.dead); since start sent \(m.sinceStart.sent), retried \(m.sinceStart.retried), given up \(m.sinceStart.dead)")
                    } else {
                        print("Mail: not configured ([mail] in the node's configuration)")
                    }
                }
            }
        }
    }
}

struct NotificationStatus: Codable {
    struct Mail: Codable {
        var configured: Bool
        var pending: Int
        var sent: Int
        var dead: Int
        var sinceStart: Webhooks.SinceStart
    }
    var mail: Mail
    struct Webhooks: Codable {
        struct SinceStart: Codable { var sent: Int; var retried: Int; var dead: Int }
        var endpoints: Int
        var pending: Int
        var delivered: Int
        var dead: Int
        var inFlight: Int
        var sinceStart: SinceStart
    }
    var webhooks: Webhooks
}

struct WebhookEndpointBody: Codable {
    var id: String
    var url: String
    var events: [String]
    var description: String?
    var createdAt: String
    var secret: String?
    var previousSecretExpiresAt: String?
}

struct WebhookDeliveryBody: Codable {
    var endpoint: String
    var sequence: Int64
    var eventId: String
    var type: String
    var subject: String
    var attempts: Int
    var lastAttemptAt: String?
    var lastStatus: Int?
    var lastError: String?
}

extension NodeCtl.Webhooks {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The endpoints and the deliveries by state.")
        @OptionGroup var connection: NodeConnection
        @Flag(name: .long, help: "Print JSON.") var json = false

        struct Listing: Codable {
            var endpoints: [WebhookEndpointBody]
            var deliveries: [String: Int]
        }

        func run() throws {
            try reportingFailures {
                let listing = try connection.getAdmin("/admin/v1/webhooks", as: Listing.self)
                if json { return print(String(decoding: try JSONCoding.encode(listing), as: UTF8.self)) }
                if listing.endpoints.isEmpty { print("No webhook endpoints.") } else {
                    print(Columns.render(header: ["ENDPOINT", "URL", "EVENTS", "SINCE"],
                                         rows: listing.endpoints.map { [$0.id, $0.url, $0.events.joined(separator: ","), $0.createdAt] }))
                }
                let counts = listing.deliveries
                print("Deliveries: pending \(counts["pending"] ?? 0), delivered \(counts["delivered"] ?? 0), given up \(counts["dead"] ?? 0)")
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an endpoint. Prints its secret once: the receiver checks every delivery's Outpost-Signature with it.")
        @OptionGroup var connection: NodeConnection
        @Argument(help: "The receiver's URL (https://…).") var url: String
        @Option(name: .long, help: "Event types, comma-separated (default: all), e.g. order.placed,order.shipped.") var events: String?
        @Option(name: .long, help: "A note for operators.") var description: String?

        func run() throws {
            try reportingFailures {
                var body: [String: Any] = ["url": url]
                if let events { body["events"] = events.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
                if let description { body["description"] = description }
                let response = try connection.admin("POST", "/admin/v1/webhooks", json: Array(try JSONSerialization.data(withJSONObject: body)))
                let endpoint = try response.decode(WebhookEndpointBody.self)
                print("added \(endpoint.id) → \(endpoint.url) (\(endpoint.events.joined(separator: ",")))")
                print("secret: \(endpoint.secret ?? "?")")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an endpoint; what was still to be delivered to it is dropped.")
        @OptionGroup var connection: NodeConnection
        @Argument(help: "The endpoint's id (we_…).") var id: String

        func run() throws {
            try reportingFailures {
                try connection.admin("DELETE", "/admin/v1/webhooks/\(id)")
                print("removed \(id)")
            }
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A new secret for an endpoint. Deliveries carry signatures by both secrets until the old one expires.")
        @OptionGroup var connection: NodeConnection
        @Argument(help: "The endpoint's id (we_…).") var id: String
        @Option(name: .customLong("overlap-hours"), help: "How long the old secret still signs (0-168).") var overlapHours: Int = 24

        func run() throws {
            try reportingFailures {
                let body = Array("{\"overlap_hours\":\(overlapHours)}".utf8)
                let endpoint = try connection.admin("POST", "/admin/v1/webhooks/\(id)/rotate-secret", json: body).decode(WebhookEndpointBody.self)
                print("new secret: \(endpoint.secret ?? "?")")
                if let until = endpoint.previousSecretExpiresAt { print("the old secret also signs until \(until)") }
            }
        }
    }

    struct Failed: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deliveries given up after their retries (the dead-letter list), newest first.")
        @OptionGroup var connection: NodeConnection
        @Option(name: .long, help: "Only this endpoint's.") var endpoint: String?
        @Option(name: .long, help: "At most this many (1-1000).") var limit: Int = 100
        @Flag(name: .long, help: "Print JSON.") var json = false

        struct Listing: Codable { var deliveries: [WebhookDeliveryBody] }

        func run() throws {
            try reportingFailures {
                var path = "/admin/v1/webhooks/failed?limit=\(limit)"
                if let endpoint { path += "&endpoint=" + (endpoint.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") }
                let listing = try connection.getAdmin(path, as: Listing.self)
                if json { return print(String(decoding: try JSONCoding.encode(listing), as: UTF8.self)) }
                guard !listing.deliveries.isEmpty else { return print("No deliveries given up.") }
                print(Columns.render(header: ["ENDPOINT", "SEQ", "EVENT", "TYPE", "ORDER", "TRIES", "LAST", "WHY"], rows: listing.deliveries.map {
                    [$0.endpoint, "\($0.sequence)", $0.eventId, $0.type, $0.subject, "\($0.attempts)", $0.lastAttemptAt ?? "", $0.lastError ?? ""]
                }))
            }
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deliver given-up deliveries again, now, with a new retry window: one (--endpoint and --sequence), an endpoint's, or all (--all).")
        @OptionGroup var connection: NodeConnection
        @Option(name: .long, help: "The endpoint's id.") var endpoint: String?
        @Option(name: .long, help: "One delivery's sequence number (from `failed`).") var sequence: Int64?
        @Flag(name: .long, help: "Every endpoint's.") var all = false

        func validate() throws {
            guard all != (endpoint != nil) else { throw ValidationError("give --endpoint (and maybe --sequence), or --all") }
            guard sequence == nil || endpoint != nil else { throw ValidationError("--sequence needs --endpoint") }
        }

        func run() throws {
            try reportingFailures {
                var body: [String: Any] = [:]
                if let endpoint { body["endpoint"] = endpoint }
                if let sequence { body["sequence"] = sequence }
                struct Retried: Codable { var retried: Int }
                let retried = try connection.admin("POST", "/admin/v1/webhooks/failed/retry", json: Array(try JSONSerialization.data(withJSONObject: body)))
                    .decode(Retried.self)
                print("\(retried.retried) deliver\(retried.retried == 1 ? "y goes" : "ies go") again")
            }
        }
    }
}
