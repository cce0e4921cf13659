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

results=()
for round in $(seq "$rounds"); do
  data="$work/data-$round"
  printf '[node]\nid = "bench"\nregion = "eu"\n[log]\naccess_log = false\n[checkout]\ntax_rate_bp = 1900\nshipping_flat_fee = 495\n' >"$work/noded.toml"
  start_noded "$data" "$work/noded.toml"
  pid=$NODED_PID url=$NODE_URL
  seed_bench_product
  taskset -c 1 wrk -t$threads -c"$connections" -d$((duration * 2))s -s bench/wrk/checkout.lua "$url" -- fill $threads | grep RESULT >"$work/fill-$round"
  checkout=$(taskset -c 1 wrk -t$threads -c"$connections" -d${duration}s --latency -s bench/wrk/checkout.lua "$url" -- checkout $threads | grep RESULT)
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  reference=$(sqlite_reference "$work/reference-$round.sqlite")
  results+=("$checkout rss_kb=$rss reference=${reference// /,}")
  echo "round $round: $checkout; filled $(cat "$work/fill-$round"); sqlite single/batched rows/s: $reference" >&2
done

print_rounds_table "checkout, one node, synchronous=FULL, group commit" "checkouts"
