# Shared by bench/checkout.sh and bench/pos.sh (sourced, not run).

# Reads DURATION (default 10), CONNECTIONS (64) and ROUNDS (3); builds noded for release (or,
# with NODED_BIN set, runs that binary instead: an older build measured in the same session);
# makes the scratch directory $work (removed at exit, with every process still running). $1: its name.
bench_setup() {
  duration=${DURATION:-10}
  connections=${CONNECTIONS:-64}
  rounds=${ROUNDS:-3}
  threads=2
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  noded_bin=${NODED_BIN:-.build/release/noded}
  [ -n "${NODED_BIN:-}" ] || swift build -c release --product noded >/dev/null
  work=$(mktemp -d "/tmp/outpost-$1-bench-XXXXXX")
  trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
}

# The reference both compare against, measured in the same run on the same disk: Python's sqlite3
# inserting one 400-byte row per transaction (one fsync each), then 1,000 rows per transaction,
# WAL with synchronous=FULL. Prints "single/s batched/s".
sqlite_reference() {
  python3 - "$1" <<'PY'
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

# Starts an nginx pinned to core $1 with one server block $2 (which may use $NGINX_PORT, a free
# loopback port, and $work); sets NGINX_URL. Stopped with the scratch directory at exit.
# nginx's workers run as www-data: the scratch directory is opened to reading for them.
start_nginx() {
  mkdir -p "$work/nginx"
  chmod -R a+rX "$work"
  NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local server
  server=$(eval "echo \"$2\"")
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  $server
}
CONF
  taskset -c "$1" nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -e "$work/nginx/error.log"
  trap 'kill $(jobs -p) 2>/dev/null || true; [[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
  NGINX_URL="http://127.0.0.1:$NGINX_PORT"
}

BENCH_RATE_LIMITS=$'[rate_limits]\nstandard_per_5min = 100000000\nsearch_per_minute = 100000000\ncredentials_per_minute = 100000\ncredentials_total_per_second = 100000'

# Starts noded pinned to core 0 with config $2 in data directory $1; sets NODED_PID, NODE_URL and
# ADMIN_TOKEN once it listens. Its log goes to $1.log.
start_noded() {
  # The rate limiter stays on (its cost is part of what is measured), with room for what wrk
  # sends from its one address.
  printf '\n%s\n' "$BENCH_RATE_LIMITS" >>"$2"
  taskset -c 0 "$noded_bin" --config "$2" --data-dir "$1" --listen 127.0.0.1:0 2>"$1.log" &
  NODED_PID=$!
  for _ in $(seq 200); do [[ -s $1/node.address ]] && break; sleep 0.05; done
  NODE_URL=$(cat "$1/node.address"); ADMIN_TOKEN=$(cat "$1/admin.token")
}

# One product BENCH-1 at 19.99 EUR in region eu, with 1,000,000 units received here.
seed_bench_product() {
  curl -sf -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$NODE_URL/admin/v1/catalog/products" \
    -d '{"id":"bench","status":"active","name":{"en":"Bench"},"variants":[{"sku":"BENCH-1","prices":[{"region":"eu","currency":"EUR","amount":1999}]}]}'
  curl -sf -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$NODE_URL/admin/v1/inventory/receive" -d '{"sku":"BENCH-1","units":1000000}'
}

# The rows of one table from "key=value" result lines: reads $results (one line per round) and
# prints the common part of a bench table: rate, refusals, p50/p99, RSS, the reference and ratio.
# $1: the table's title; $2: what a row of the rate counts.
print_rounds_table() {
  python3 - "$1" "$2" "${results[@]}" <<'PY'
import re, statistics, sys
title, what = sys.argv[1], sys.argv[2]
rows = []
for line in sys.argv[3:]:
    f = dict(re.findall(r"(\w+)=([\d.,]+)", line))
    single, batched = (float(x) for x in f["reference"].split(","))
    rows.append({"rate": float(f["ok"]) / float(f["seconds"]), "bad": int(f["bad"]), "p50": float(f["p50_ms"]), "p99": float(f["p99_ms"]),
                 "rss": int(f["rss_kb"]) / 1024, "busy": float(f["busy_pct"]), "single": single, "batched": batched})
def cell(key, fmt):
    values = [r[key] for r in rows]
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"
print(f"\n| {title} | median (range) over {len(rows)} rounds |")
print("|---|---|")
print(f"| {what}/s (2xx only) | {cell('rate', '{:,.0f}')} |")
print(f"| refused or failed | {sum(r['bad'] for r in rows)} |")
print(f"| latency p50 ms | {cell('p50', '{:.2f}')} |")
print(f"| latency p99 ms | {cell('p99', '{:.2f}')} |")
print(f"| noded CPU during the run, % of one core (below 100: the loop waits, mostly on fsync) | {cell('busy', '{:.0f}')} |")
print(f"| noded RSS MiB after the run | {cell('rss', '{:.0f}')} |")
print(f"| reference: SQLite one insert per commit (FULL), rows/s | {cell('single', '{:,.0f}')} |")
print(f"| reference: SQLite 1,000 inserts per commit (FULL), rows/s | {cell('batched', '{:,.0f}')} |")
ratio = [r['rate'] / r['single'] for r in rows]
print(f"| {what}/s ÷ one-commit-per-row inserts/s | {statistics.median(ratio):.2f}x |")
PY
}

# User plus system CPU time of process $1 so far, in clock ticks.
cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$1/stat"
}

# $rounds rounds of one wrk workload, each on a fresh noded: noded pinned to core 0 with the
# [checkout] terms $1, BENCH-1 seeded, then the function $2 run (what it prints is passed to the
# wrk script after its mode and thread count); wrk on core 1 runs script $3 in mode "fill" for
# twice $duration, then in mode $4 for $duration with latencies. After each round the SQLite
# reference runs on the same disk. Fills $results (one line per round) for print_rounds_table.
# A function `after_round`, if defined, runs after each measurement while noded still runs.
run_rounds() {
  local terms=$1 prepare=$2 script=$3 mode=$4 round data extra measured rss reference cpu_before busy
  results=()
  for round in $(seq "$rounds"); do
    data="$work/data-$round"
    printf '[node]\nid = "bench"\nregion = "eu"\n[log]\naccess_log = false\n[checkout]\n%s\n' "$terms" >"$work/noded.toml"
    start_noded "$data" "$work/noded.toml"
    seed_bench_product
    extra=$("$prepare")
    # shellcheck disable=SC2086 # $extra is the script's own arguments, split on purpose
    taskset -c 1 wrk -t"$threads" -c"$connections" -d$((duration * 2))s -s "$script" "$NODE_URL" -- fill "$threads" $extra | grep RESULT >"$work/fill-$round"
    cpu_before=$(cpu_ticks "$NODED_PID")
    # shellcheck disable=SC2086
    measured=$(taskset -c 1 wrk -t"$threads" -c"$connections" -d"${duration}"s --latency -s "$script" "$NODE_URL" -- "$mode" "$threads" $extra | grep RESULT)
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$NODED_PID/status")
    if declare -F after_round >/dev/null; then after_round "$round"; fi
    busy=$(( ($(cpu_ticks "$NODED_PID") - cpu_before) * 100 / $(getconf CLK_TCK) / duration ))
    kill "$NODED_PID"; wait "$NODED_PID" 2>/dev/null || true
    reference=$(sqlite_reference "$work/reference-$round.sqlite")
    results+=("$measured rss_kb=$rss busy_pct=$busy reference=${reference// /,}")
    echo "round $round: $measured; prepared by fill: $(cat "$work/fill-$round"); sqlite single/batched rows/s: $reference" >&2
  done
}
