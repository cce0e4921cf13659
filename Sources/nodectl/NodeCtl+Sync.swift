import ArgumentParser
import Foundation
import HTTP
import Node

extension NodeCtl {
    struct Sync: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replication between nodes.", subcommands: [Status.self])
    }
}

extension NodeCtl.Sync {
    /// `nodectl sync status`: per peer, link state, lag each way, bytes, digests.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each peer: connected or not since when, last contact, deltas and seconds behind each way, bytes, digests.")

        @OptionGroup var connection: NodeConnection

        @Flag(name: .long, help: "Print JSON instead of tables.")
        var json = false

        func run() throws {
            try reportingFailures {
                let report = try connection.getAdmin("/admin/v1/sync/status", as: SyncStatusReport.self)
                if json {
                    print(String(decoding: try JSONCoding.encode(report), as: UTF8.self))
                } else {
                    print(Self.render(report))
                }
            }
        }

        static func render(_ report: SyncStatusReport) -> String {
            var out = "Node \(report.nodeId) (region \(report.region)), sync \(report.listen.map { "on \($0)" } ?? "dial-only")\n"
            if let leader = report.settlementLeader {
                out += "Settlement leader: \(leader.hub) (epoch \(leader.epoch), since \(leader.since))\n"
            }
            guard !report.peers.isEmpty else { return out + "\nNo peers." }
            out += "\n" + Columns.render(
                header: ["PEER", "REGION", "ADDRESS", "LINK", "LAST CONTACT", "BEHIND OUT", "BEHIND IN", "SENT", "RECEIVED"],
                rows: report.peers.map { peer in
                    let outgoing = peer.collections.reduce(0) { $0 + $1.deltasBehindOutgoing }
                    let seconds = peer.collections.map(\.secondsBehindOutgoing).max() ?? 0
                    return [
                        peer.nodeId, peer.region, peer.address ?? "(dials us)",
                        (peer.connected ? "up since " : "down since ") + peer.since + (peer.lastError.map { " (\($0))" } ?? ""),
                        peer.lastContact ?? "never", "\(outgoing) (\(seconds) s)", "\(peer.collections.reduce(0) { $0 + $1.deltasBehindIncoming })",
                        Format.bytes(Int64(peer.bytesSent)), Format.bytes(Int64(peer.bytesReceived)),
                    ]
                })
            out += "\n\n" + Columns.render(
                header: ["PEER", "COLLECTION", "DIGEST", "PEER DIGEST", "AGREE"],
                rows: report.peers.flatMap { peer in
                    peer.collections.map { collection in
                        [peer.nodeId, collection.name, String(collection.digest.prefix(16)), collection.peerDigest.map { String($0.prefix(16)) } ?? "-",
                         collection.digestsMatch.map { $0 ? "yes" : "NO" } ?? "pending"]
                    }
                })
            return out
        }
    }
}

/// Left-aligned columns separated by two spaces.
enum Columns {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
