import ArgumentParser
import Foundation
import HTTP
import Node
import Platform

/// How a subcommand reaches a node: `--node URL --token-file FILE`, or `--data-dir DIR`.
struct NodeConnection: ParsableArguments {
    @Option(name: .long, help: "Base URL of the node, e.g. http://127.0.0.1:8080 or https://store-1.example:8443.")
    var node: String?

    @Option(name: .long, help: "For an HTTPS node: the CA certificate its certificate must chain to, and the only one trusted (default with --data-dir: its ca.crt, the fleet's).")
    var ca: String?

    @Option(name: .customLong("token-file"), help: "File holding the node's admin token.")
    var tokenFile: String?

    @Option(name: .customLong("data-dir"), help: "Data directory of a local node (address and token are read from it).")
    var dataDir: String?

    @Option(name: .customLong("timeout-ms"), help: "Give up on the node after this many milliseconds.")
    var timeoutMs: Int32 = 5_000

    func validate() throws {
        if dataDir != nil && (node != nil || tokenFile != nil) {
            throw ValidationError("use either --data-dir, or --node with --token-file, not both")
        }
        if dataDir == nil && (node == nil || tokenFile == nil) {
            throw ValidationError("say which node: --node URL --token-file FILE, or --data-dir DIR")
        }
        if timeoutMs <= 0 { throw ValidationError("--timeout-ms must be positive") }
    }

    /// Opens a client and reads the token; failures are one-line messages.
    func open() throws -> (client: HTTPClient, token: String) {
        let url: String
        let tokenPath: String
        if let dataDir {
            let addressPath = dataDir + "/" + NodeIdentity.addressFile
            guard let address = try? Files.readString(addressPath).trimmingCharacters(in: .whitespacesAndNewlines), !address.isEmpty else {
                throw CLIFailure("no running node found in \(dataDir) (\(addressPath) is missing: is noded running there?)")
            }
            url = address
            tokenPath = dataDir + "/" + NodeIdentity.adminTokenFile
        } else {
            url = node ?? ""
            tokenPath = tokenFile ?? ""
        }
        // HTTPS: trust exactly one CA, never the system's store: a node's certificate is the
        // fleet's (or its operator's, named with --ca).
        var authority: String?
        if url.hasPrefix("https://") {
            let caPath = ca ?? dataDir.map { $0 + "/" + NodeIdentity.authorityFile } ?? ""
            guard !caPath.isEmpty, let pem = try? Files.readString(caPath) else {
                throw CLIFailure("\(url) is HTTPS: give the CA certificate it must chain to with --ca FILE" + (caPath.isEmpty ? "" : " (\(caPath) does not read)"))
            }
            authority = pem
        }
        let token: String
        do {
            token = try Files.readString(tokenPath).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw CLIFailure("cannot read the admin token from \(tokenPath): \(error.reason)")
        }
        guard !token.isEmpty else { throw CLIFailure("the token file \(tokenPath) is empty") }
        do {
            return (try HTTPClient(baseURL: url, timeoutMs: timeoutMs, trusting: authority), token)
        } catch {
            throw CLIFailure("\(error)")
        }
    }

    /// GETs an admin resource and decodes it, turning every failure into one line.
    func getAdmin<T: Decodable>(_ path: String, as type: T.Type) throws -> T {
        try adminJSON("GET", path, as: type)
    }

    /// Sends an admin request without a body and decodes what the node answers.
    func adminJSON<T: Decodable>(_ method: String, _ path: String, as type: T.Type) throws -> T {
        let response = try admin(method, path)
        do {
            return try response.decode(T.self)
        } catch {
            throw CLIFailure("the node answered \(path) with a body nodectl does not understand")
        }
    }

    /// Sends an admin request; anything but 2xx is a one-line failure.
    @discardableResult
    func admin(_ method: String, _ path: String, json body: [UInt8]? = nil) throws -> ClientResponse {
        let response = try send(method, path, body: body, contentType: body == nil ? nil : "application/json")
        guard (200..<300).contains(response.status) else {
            throw CLIFailure(Self.describe(response, url: address))
        }
        return response
    }

    /// The node's address as the operator knows it: --node, or what its data directory says.
    var address: String {
        if let node { return node }
        if let dataDir, let written = try? Files.readString(dataDir + "/" + NodeIdentity.addressFile).trimmingCharacters(in: .whitespacesAndNewlines),
           !written.isEmpty { return written }
        return "in " + (dataDir ?? "?")
    }

    /// Sends an admin request and returns whatever the node answered.
    func send(_ method: String, _ path: String, body: [UInt8]?, contentType: String?, timeoutMs: Int32? = nil) throws -> ClientResponse {
        var connection = self
        if let timeoutMs { connection.timeoutMs = timeoutMs }
        let (client, token) = try connection.open()
        defer { client.close() }
        var headers = [("Authorization", "Bearer \(token)"), ("Accept", "application/json")]
        if let contentType { headers.append(("Content-Type", contentType)) }
        do {
            return try client.send(method, path, headers: headers, body: body)
        } catch {
            throw CLIFailure("\(error)")
        }
    }

    static func describe(_ response: ClientResponse, url: String) -> String {
        let detail = (try? response.decode(ProblemBody.self)).map { $0.detail ?? $0.title } ?? response.text.prefix(200).description
        if response.status == 401 { return "the node at \(url) refused the admin token (401): \(detail)" }
        return "the node at \(url) answered \(response.status): \(detail)"
    }
}

/// The members of a problem+json body nodectl shows.
struct ProblemBody: Decodable {
    var title: String
    var detail: String?
}

/// A failure reported as one line on stderr and exit status 1.
struct CLIFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

extension ParsableCommand {
    /// Runs `body`, printing a `CLIFailure` as "nodectl: message" and exiting 1.
    func reportingFailures(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as CLIFailure {
            FileHandle.standardError.write(Data("nodectl: \(failure.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}
