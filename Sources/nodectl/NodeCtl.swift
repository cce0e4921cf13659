import ArgumentParser
import Node

/// The operator's command line. One subcommand per file (`NodeCtl+Status.swift`, ...).
@main
struct NodeCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodectl",
        abstract: "Operate an Outpost node through its admin API.",
        discussion: """
            Reach a node with --node URL --token-file FILE, or with --data-dir DIR for a node on this
            machine (its address and admin token are read from the data directory).
            """,
        version: OutpostVersion.current,
        subcommands: [Status.self, Sync.self, Peers.self, Catalog.self, Ledger.self, POS.self, Customers.self, Token.self, Fleet.self, Enroll.self, Provision.self, Firmware.self, Backup.self, Webhooks.self, Notifications.self, Staff.self, Reports.self])
}
