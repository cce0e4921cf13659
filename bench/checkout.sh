#!/usr/bin/env bash
# Checkouts per second against one noded (synchronous=FULL, group commit), with a plain SQLite
# insert loop in the same fsync mode measured in the same run as the reference.
#
# noded is pinned to core 0, wrk to core 1. First wrk fills carts (one line each) for
# FILL_SECONDS, then checks them out for DURATION seconds over CONNECTIONS connections: each
# checkout recomputes prices and tax, takes stock, records the payment, asks the sandbox
# acquirer (its own durable row), places the order and empties the cart (three group commits).
# The reference: Python's sqlite3 inserting one 400-byte row per transaction (one fsync each),
# then 1,000 rows per transaction, WAL with synchronous=FULL, on the same disk.
# A second table gives the floor under a checkout in the same run: GET /healthz (HTTP alone),
# and the SQLite work of a checkout replayed without anything else (checkout-floor).
#
# Env: DURATION (default 10), CONNECTIONS (default 64), ROUNDS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup checkout

# Before each round's fill, the HTTP floor: the fresh noded answering GET /healthz (kept in a
# file: run_rounds calls this in a subshell, and what it prints goes to the wrk script).
http_floor() {
  taskset -c 1 wrk -t"$threads" -c"$connections" -d3s "$NODE_URL/healthz" | awk '/Requests\/sec/ {print $2}' >>"$work/http-floor"
}
run_rounds $'tax_rate_bp = 1900\nshipping_flat_fee = 495' http_floor bench/wrk/checkout.lua checkout
print_rounds_table "checkout, one node, synchronous=FULL, group commit" "checkouts"

# The storage floor: the SQLite work of a checkout replayed alone on the last round's database,
# pinned to noded's core (bench/CheckoutFloor/main.swift says what it replays).
swift build -c release --product checkout-floor >/dev/null
storage_floor=$(taskset -c 0 .build/release/checkout-floor "$work/data-$rounds/node.sqlite" 5 "$connections")
log_floor=$(taskset -c 0 .build/release/checkout-floor "$work/data-$rounds/node.sqlite" 5 "$connections" --log-only)
# shellcheck disable=SC2046 # one rate per line, split on purpose
python3 - "$storage_floor" "$log_floor" $(cat "$work/http-floor") <<'PY'
import statistics, sys
(storage, statements), (log, log_statements) = (s.split() for s in sys.argv[1:3])
http = [float(x) for x in sys.argv[3:]]
print("\n| the floor under a checkout, same run, on noded's core | per second | µs each (wall) |")
print("|---|---|---|")
print(f"| GET /healthz on the same noded before its fill (HTTP alone), median | {statistics.median(http):,.0f} | {1e6 / statistics.median(http):.0f} |")
print(f"| a checkout's SQLite work alone ({float(statements):.0f} statements), replayed in-process | {float(storage):,.0f} | {1e6 / float(storage):.0f} |")
print(f"| its op log and states alone ({float(log_statements):.0f} statements, no view or checkout row) | {float(log):,.0f} | {1e6 / float(log):.0f} |")
print("| the target: 10,000 checkouts/s | 10,000 | 100 |")
PY
