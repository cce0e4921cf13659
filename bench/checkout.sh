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
duration=${DURATION:-10}
connections=${CONNECTIONS:-64}
rounds=${ROUNDS:-3}
threads=2
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
swift build -c release --product noded >/dev/null
work=$(mktemp -d /tmp/outpost-checkout-bench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

sqlite_reference() {
  python3 - "$work/reference.sqlite" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE IF NOT EXISTS orders(id TEXT PRIMARY KEY, body BLOB)")
row = b"x" * 400
n, start = 0, time.time()
while time.time() - start < 3:
    db.execute("BEGIN"); db.execute("INSERT INTO orders VALUES (?, ?)", (f"single-{time.time_ns()}-{n}", row)); db.execute("COMMIT"); n += 1
single = n / (time.time() - start)
n, start = 0, time.time()
while time.time() - start < 3:
    db.execute("BEGIN")
    for _ in range(1000):
        db.execute("INSERT INTO orders VALUES (?, ?)", (f"batch-{time.time_ns()}-{n}", row)); n += 1
    db.execute("COMMIT")
print(f"{single:.0f} {n / (time.time() - start):.0f}")
PY
}

results=()
for round in $(seq "$rounds"); do
  data="$work/data-$round"
  printf '[node]\nid = "bench"\nregion = "eu"\n[log]\naccess_log = false\n[checkout]\ntax_rate_bp = 1900\nshipping_flat_fee = 495\n' >"$work/noded.toml"
  taskset -c 0 .build/release/noded --config "$work/noded.toml" --data-dir "$data" --listen 127.0.0.1:0 2>"$work/noded-$round.log" &
  pid=$!
  for _ in $(seq 200); do [[ -s $data/node.address ]] && break; sleep 0.05; done
  url=$(cat "$data/node.address"); token=$(cat "$data/admin.token")
  curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$url/admin/v1/catalog/products" \
    -d '{"id":"bench","status":"active","name":{"en":"Bench"},"variants":[{"sku":"BENCH-1","prices":[{"region":"eu","currency":"EUR","amount":1999}]}]}'
  curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$url/admin/v1/inventory/receive" -d '{"sku":"BENCH-1","units":1000000}'
  taskset -c 1 wrk -t$threads -c"$connections" -d$((duration * 2))s -s bench/wrk/checkout.lua "$url" -- fill $threads | grep RESULT >"$work/fill-$round"
  checkout=$(taskset -c 1 wrk -t$threads -c"$connections" -d${duration}s --latency -s bench/wrk/checkout.lua "$url" -- checkout $threads | grep RESULT)
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  reference=$(sqlite_reference)
  results+=("$checkout rss_kb=$rss reference=${reference// /,}")
  echo "round $round: $checkout; filled $(cat "$work/fill-$round"); sqlite single/batched rows/s: $reference" >&2
done

python3 - "${results[@]}" <<'PY'
import re, statistics, sys
rows = []
for line in sys.argv[1:]:
    f = dict(re.findall(r"(\w+)=([\d.,]+)", line))
    single, batched = (float(x) for x in f["reference"].split(","))
    rows.append({"rate": float(f["ok"]) / float(f["seconds"]), "bad": int(f["bad"]), "p50": float(f["p50_ms"]), "p99": float(f["p99_ms"]),
                 "rss": int(f["rss_kb"]) / 1024, "single": single, "batched": batched})
def cell(key, fmt):
    values = [r[key] for r in rows]
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"
print("\n| checkout, one node, synchronous=FULL, group commit | median (range) over %d rounds |" % len(rows))
print("|---|---|")
print(f"| checkouts/s (201s only) | {cell('rate', '{:,.0f}')} |")
print(f"| refused or failed | {sum(r['bad'] for r in rows)} |")
print(f"| latency p50 ms | {cell('p50', '{:.2f}')} |")
print(f"| latency p99 ms | {cell('p99', '{:.2f}')} |")
print(f"| noded RSS MiB after the run | {cell('rss', '{:.0f}')} |")
print(f"| reference: SQLite one insert per commit (FULL), rows/s | {cell('single', '{:,.0f}')} |")
print(f"| reference: SQLite 1,000 inserts per commit (FULL), rows/s | {cell('batched', '{:,.0f}')} |")
ratio = [r['rate'] / r['single'] for r in rows]
print(f"| checkouts/s ÷ one-commit-per-row inserts/s | {statistics.median(ratio):.2f}x |")
PY
