#!/usr/bin/env bash
# Backups (docs/backups.md): what archiving every commit costs checkouts, in the same run.
#
# The checkout workload of bench/checkout.sh, ROUNDS rounds on a fresh noded without backups,
# then ROUNDS with [backup] on (archive to a directory on the same disk, a full at start): the
# ratio of the medians, the archive's bytes per checkout (its files ÷ orders placed, carts'
# lines included), and how far the archive was behind during the load (sampled every 50 ms).
# Then bench/backup.py: a full of a 100k-product, 100k-order store, restore and start (RTO).
#
# Env: DURATION (default 10), CONNECTIONS (64), ROUNDS (3); SIZES, PRODUCTS for backup.py.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup backup
swift build -c release --product nodectl >/dev/null
.build/release/nodectl backup key --out "$work/backup.key" >/dev/null
terms=$'tax_rate_bp = 1900\nshipping_flat_fee = 495'

# While each measured checkout run goes on, how far the archive is behind: now minus the commit
# time of the newest change on the backup disk, whenever changes wait.
archive_lag_sampler() {
  (
    while kill -0 "$NODED_PID" 2>/dev/null; do
      curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$NODE_URL/admin/v1/backups" 2>/dev/null |
        python3 -c 'import json, sys, time, datetime
s = json.load(sys.stdin)
if s.get("archived_at") and s["committed_seq"] > s["archived_seq"]:
    at = datetime.datetime.fromisoformat(s["archived_at"].replace("Z", "+00:00")).timestamp()
    print(round((time.time() - at) * 1000))
elif s.get("archived_at"):
    print(0)' >>"$work/archive-lag" 2>/dev/null || true
      sleep 0.05
    done
  ) >/dev/null 2>&1 &
}

run_rounds "$terms" true bench/wrk/checkout.lua checkout
off=("${results[@]}")
print_rounds_table "checkout, backups off" "checkouts"
results=()
rm -rf "$work"/data-*  # fresh data directories: the rounds above left theirs
run_rounds "$terms"$'\n[backup]\ndirectory = "'"$work/backups"$'"\nkey_file = "'"$work/backup.key"'"' archive_lag_sampler bench/wrk/checkout.lua checkout
on=("${results[@]}")
print_rounds_table "checkout, backups on (archive every commit, synced every 0.5 s)" "checkouts"

orders=0
for round in $(seq "$rounds"); do
  orders=$((orders + $(python3 -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM orders_view').fetchone()[0])" "$work/data-$round/node.sqlite")))
done
archive_bytes=$(find "$work/backups" -name 'archive-*.obk' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
python3 - "$archive_bytes" "$orders" "$work/archive-lag" "${off[@]}" -- "${on[@]}" <<'PY'
import re, statistics, sys
archive_bytes, orders, lag_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rest = sys.argv[4:]
split = rest.index("--")
def rates(lines):
    return [float(dict(re.findall(r"(\w+)=([\d.,]+)", line))["ok"]) / float(dict(re.findall(r"(\w+)=([\d.,]+)", line))["seconds"]) for line in lines]
off, on = statistics.median(rates(rest[:split])), statistics.median(rates(rest[split + 1:]))
lags = sorted(int(x) for x in open(lag_file).read().split()) if orders else []
def pct(p): return lags[min(len(lags) - 1, int(p * len(lags)))] if lags else 0
print("\n| backups: the archive's cost, same run | value |")
print("|---|---|")
print(f"| checkouts/s with backups on ÷ off (medians) | {on / off:.2f}x ({on:,.0f} / {off:,.0f}) |")
print(f"| archive bytes per checkout (its cart line included), compressed and encrypted | {archive_bytes / max(1, orders):,.0f} |")
print(f"| archive behind the last commit under load, ms: p50 / p99 / max ({len(lags)} samples every 50 ms) | {pct(0.5)} / {pct(0.99)} / {lags[-1] if lags else 0} |")
PY

.build/tools-venv/bin/python3 bench/backup.py "$work/backup.key" 2>/dev/null || python3 bench/backup.py "$work/backup.key"
