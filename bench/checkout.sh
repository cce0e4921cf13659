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
#
# Env: DURATION (default 10), CONNECTIONS (default 64), ROUNDS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup checkout

nothing_to_prepare() { :; }
run_rounds $'tax_rate_bp = 1900\nshipping_flat_fee = 495' nothing_to_prepare bench/wrk/checkout.lua checkout
print_rounds_table "checkout, one node, synchronous=FULL, group commit" "checkouts"
