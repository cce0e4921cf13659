#!/usr/bin/env bash
# What the back office costs (docs/back-office.md), in two tables:
# 1. Keeping the sales windows: checkouts per second with each order folded into the windows in
#    its own transaction, then with the folding switched off (OUTPOST_BENCH_WITHOUT_SALES_WINDOWS,
#    bench only), same run, same disk, ROUNDS rounds each on fresh nodes; the ratio of medians.
# 2. Serving the dashboard with ORDERS orders (default 100,000) in today's windows, sold over 200
#    products by real checkouts: a signed-in store manager's GET /admin/ (wrk, 4 connections,
#    noded on core 0, wrk on core 1) against nginx serving the same bytes from a file in the same
#    run, and the day's 5-minute sales report and top-products report as JSON.
#
# Env: DURATION (default 10), CONNECTIONS (64), ROUNDS (3), ORDERS (100000).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup backoffice
orders=${ORDERS:-100000}

terms=$'tax_rate_bp = 1900\nshipping_flat_fee = 495'
none() { :; }
run_rounds "$terms" none bench/wrk/checkout.lua checkout
print_rounds_table "checkout, sales windows kept (as shipped)" "checkouts"
kept=("${results[@]}")
rm -rf "$work"/data-*
export OUTPOST_BENCH_WITHOUT_SALES_WINDOWS=1
run_rounds "$terms" none bench/wrk/checkout.lua checkout
unset OUTPOST_BENCH_WITHOUT_SALES_WINDOWS
print_rounds_table "checkout, sales windows not kept (bench switch)" "checkouts"
rm -rf "$work"/data-*
python3 - "${kept[@]}" -- "${results[@]}" <<'PY'
import re, statistics, sys
split = sys.argv.index("--")
rate = lambda line: (lambda f: float(f["ok"]) / float(f["seconds"]))(dict(re.findall(r"(\w+)=([\d.]+)", line)))
kept, skipped = [rate(l) for l in sys.argv[1:split]], [rate(l) for l in sys.argv[split + 1:]]
print("\n| keeping the sales windows, same run | value |")
print("|---|---|")
print(f"| checkouts/s with the windows ÷ without (medians) | {statistics.median(kept) / statistics.median(skipped):.2f}x |")
PY

# The dashboard: one node, 200 products, $orders checkouts.
data="$work/dashboard"
printf '[node]\nid = "bench"\nregion = "eu"\n[log]\naccess_log = false\n[checkout]\n%s\n' "$terms" >"$work/noded.toml"
start_noded "$data" "$work/noded.toml"
for n in $(seq 200); do
  curl -sf -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$NODE_URL/admin/v1/catalog/products" \
    -d "{\"id\":\"bench-$n\",\"status\":\"active\",\"name\":{\"en\":\"Bench product $n\"},\"variants\":[{\"sku\":\"BENCH-$n\",\"prices\":[{\"region\":\"eu\",\"currency\":\"EUR\",\"amount\":$((500 + n * 37))}]}]}"
  curl -sf -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$NODE_URL/admin/v1/inventory/receive" \
    -d "{\"sku\":\"BENCH-$n\",\"units\":1000000}"
done
fill_seconds=$(( orders / 4000 + 5 )); checkout_seconds=$(( orders / 2000 + 5 ))
taskset -c 1 wrk -t"$threads" -c"$connections" -d"${fill_seconds}s" -s bench/wrk/checkout.lua "$NODE_URL" -- fill "$threads" 200 "$orders" | grep RESULT >&2
taskset -c 1 wrk -t"$threads" -c"$connections" -d"${checkout_seconds}s" -s bench/wrk/checkout.lua "$NODE_URL" -- checkout "$threads" 200 "$orders" | grep RESULT >&2
sold=$(curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$NODE_URL/admin/v1/reports/sales?window=1d" | python3 -c 'import json,sys; t=json.load(sys.stdin)["totals"]; print(sum(r["orders"] for r in t))')

# A store manager signs in the way a browser does; wrk then sends the session cookie.
curl -sf -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -X PUT "$NODE_URL/admin/v1/staff-accounts/bench" \
  -d '{"name":"Bench","role":"store_manager","password":"bench bench bench"}'
form=$(curl -sf -c "$work/jar" "$NODE_URL/admin/sign-in")
csrf=$(grep -o 'name="csrf" value="[^"]*"' <<<"$form" | head -1 | sed 's/.*value="//; s/"$//')
curl -sf -o /dev/null -b "$work/jar" -c "$work/jar" -H "Origin: $NODE_URL" --data "csrf=$csrf&next=%2Fadmin%2F&account=bench&password=bench+bench+bench" "$NODE_URL/admin/sign-in"
session=$(awk '$6 == "outpost_staff" {print $7}' "$work/jar")
[[ -n $session ]] || { echo "backoffice bench: the sign-in failed" >&2; exit 1; }
mkdir -p "$work/www"
curl -sf -H "Cookie: outpost_staff=$session" "$NODE_URL/admin/" >"$work/www/index.html"

# Requests/s, p50 ms and p99 ms of one wrk run: $1 URL, then extra wrk arguments.
measure() {
  local url=$1; shift
  # A run with answers other than 2xx measured something else (a 403, a redirect): it stops the bench.
  taskset -c 1 wrk -t1 -c4 -d"${DURATION:-10}s" --latency "$@" "$url" | awk '
    /Requests\/sec/ {rate=$2}
    /Non-2xx or 3xx/ {bad=$NF}
    $1 == "50%" {p50=$2} $1 == "99%" {p99=$2}
    END {if (bad > 0) {print "backoffice bench: " bad " answers were not 2xx" > "/dev/stderr"; exit 1} print rate, p50, p99}'
}
dashboard=$(measure "$NODE_URL/admin/" -H "Cookie: outpost_staff=$session")
report=$(measure "$NODE_URL/admin/v1/reports/sales?window=5m&by=channel" -H "Authorization: Bearer $ADMIN_TOKEN")
top=$(measure "$NODE_URL/admin/v1/reports/products?limit=10" -H "Authorization: Bearer $ADMIN_TOKEN")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$NODED_PID/status")
kill "$NODED_PID"; wait "$NODED_PID" 2>/dev/null || true

start_nginx 0 'server { listen 127.0.0.1:$NGINX_PORT; root $work/www; location / { default_type text/html; } }'
reference=$(measure "$NGINX_URL/index.html")

python3 - "$sold" "$(wc -c <"$work/www/index.html")" "$rss" "$dashboard" "$report" "$top" "$reference" <<'PY'
import sys
sold, size, rss = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) / 1024
def parse(text):
    rate, p50, p99 = text.split()
    ms = lambda v: float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-1]) * 1000
    return float(rate), ms(p50), ms(p99)
dash, report, top, nginx = (parse(x) for x in sys.argv[4:8])
print(f"\n| the dashboard with {sold:,} orders today (200 products), one core, 4 connections | requests/s | p50 ms | p99 ms |")
print("|---|---|---|---|")
print(f"| GET /admin/ signed in ({size:,} bytes of HTML, 4 SVG charts) | {dash[0]:,.0f} | {dash[1]:.2f} | {dash[2]:.2f} |")
print(f"| reference: nginx serving the same bytes from a file, same run | {nginx[0]:,.0f} | {nginx[1]:.2f} | {nginx[2]:.2f} |")
print(f"| GET /admin/v1/reports/sales?window=5m&by=channel (today, JSON) | {report[0]:,.0f} | {report[1]:.2f} | {report[2]:.2f} |")
print(f"| GET /admin/v1/reports/products?limit=10 (today, JSON) | {top[0]:,.0f} | {top[1]:.2f} | {top[2]:.2f} |")
print(f"| dashboard requests/s ÷ nginx's | {dash[0] / nginx[0]:.3f}x |")
print(f"| noded RSS after the run, MiB | {rss:.0f} |")
PY
