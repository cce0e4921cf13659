// swift-tools-version:6.0
// Outpost: one self-contained commerce node per site. Layering (nothing imports upward):
//   C modules <- Platform <- HTTP, Replication (pure) <- Persistence, Commerce <- Node <- noded, nodectl
// Only Platform imports the C modules.
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]
// The loop's hot path (Platform, HTTP) skips dynamic exclusivity checks in release builds: they
// cost about 8% of a request's instructions (measured with callgrind). Debug builds, which run
// the tests, keep every check.
let hotPath: [SwiftSetting] = strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Outpost",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "noded", targets: ["noded"]),
        .executable(name: "nodectl", targets: ["nodectl"]),
        // Test harness only: preloaded into a noded under test to make its disk fail on demand.
        .library(name: "OutpostFaults", type: .dynamic, targets: ["OutpostFaults"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", exact: "0.6.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", exact: "2.0.1"),
        .package(url: "https://github.com/yaslab/CSV.swift.git", exact: "2.5.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", exact: "2.1.1"),
    ],
    targets: [
        // System libraries (Debian -dev packages). Each shim.h holds only what Swift cannot import.
        .systemLibrary(name: "CLibUV", path: "Sources/CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CHTTPParser", path: "Sources/CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        .target(
            name: "Platform",
            dependencies: ["CLibUV", "CSQLite", "COpenSSL", "CZstd", "CHTTPParser", "CLibPQ"],
            swiftSettings: hotPath
        ),
        .target(name: "HTTP", dependencies: ["Platform"], swiftSettings: hotPath),
        // Pure: CRDTs, clocks and the sync session. No I/O, no clock reads, no C.
        // Generic CRDT code is used from Node with concrete types: cross-module optimisation lets
        // it specialise there instead of running generic (measured: ~10% of a catch-up in runtime
        // type lookups without it).
        .target(name: "Replication", swiftSettings: strict + [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]),
        // The node's replicated data on SQLite: the replica (op log, states behind it, keys of
        // history read on first use), typed collection handles and their projections.
        // Its generic reads and commits are called from Node with concrete CRDTs: cross-module
        // optimisation lets them specialise there, as Replication's do (without it, checkouts
        // ran 18% slower in bench/checkout.sh).
        .target(name: "Persistence", dependencies: ["Platform", "Replication"],
                swiftSettings: strict + [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]),
        // The shop's domain: catalog, search, ... Each concept owns its tables; no HTTP.
        .target(name: "Commerce", dependencies: ["Platform", "Replication", "Persistence"], swiftSettings: strict),
        // The hub's books: accounts, transfers, the hash-chained journal; settlement of the
        // fleet's payments into them, and reconciliation.
        .target(name: "Ledger", dependencies: ["Platform", "Commerce"], swiftSettings: strict),
        .target(
            name: "Node",
            dependencies: [
                "Platform", "HTTP", "Replication", "Persistence", "Commerce", "Ledger",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: strict
        ),
        .target(name: "OutpostFaults", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "NodeTesting", dependencies: ["Platform", "HTTP", "Node", "Replication", "Persistence", "Commerce"], swiftSettings: strict),
        .executableTarget(
            name: "noded",
            dependencies: ["Node", "HTTP", "Platform", .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "nodectl",
            dependencies: ["Platform", "HTTP", "Node", "Commerce", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "CSV", package: "CSV.swift")],
            swiftSettings: strict
        ),
        // bench/sync.py's in-memory reference row: decode + apply, like pycrdt's apply_update.
        .executableTarget(name: "replication-bench", dependencies: ["Replication"], path: "bench/ReplicationBench", swiftSettings: strict),
        // bench/ledger: durable transfers per second beside a plain SQLite insert loop, and on a
        // private PostgreSQL cluster beside a plain PostgreSQL insert loop batched alike.
        .executableTarget(name: "ledger-bench", dependencies: ["Ledger", "Node", "Platform", "Commerce", "NodeTesting"], path: "bench/LedgerBench",
                          swiftSettings: strict),
        // The SQLite work of one checkout replayed alone (bench/checkout.sh): the storage floor.
        .executableTarget(name: "checkout-floor", dependencies: ["Platform"], path: "bench/CheckoutFloor", swiftSettings: strict),

        .testTarget(name: "PlatformTests", dependencies: ["Platform", "NodeTesting"], swiftSettings: strict),
        .testTarget(
            name: "ReplicationTests",
            dependencies: ["Replication", "NodeTesting", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: strict
        ),
        .testTarget(name: "CommerceTests", dependencies: ["Commerce", "Replication"], swiftSettings: strict),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger", "Commerce", "Node", "Platform", "NodeTesting"], swiftSettings: strict),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Platform", "NodeTesting"], swiftSettings: strict),
        .testTarget(name: "NodeTests", dependencies: ["Node", "Commerce", "HTTP", "Platform", "Persistence", "Replication", "NodeTesting"], swiftSettings: strict),
        // Fixtures/ holds golden problem bodies, read from the source tree (not bundled).
        .testTarget(name: "EndToEndTests", dependencies: ["NodeTesting", "HTTP", "Platform", "Replication", "Commerce", "Ledger"], exclude: ["Fixtures"],
                    swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
