#!/usr/bin/env bash
# noded against nginx serving the same JSON bytes on loopback, driven by wrk.
#
# Each server runs alone, pinned to core 0; wrk is pinned to core 1. Both servers log every
# request (buffered: nginx `buffer=64k flush=1s`, noded flushes every 100 ms). nginx gets the
# settings a tuned static server would have (open_file_cache, unlimited keep-alive requests).
#
# The machines are shared and noisy: the two servers are measured alternately, ROUNDS times, and
# the table shows the median of each figure with its range across rounds.
#
# Env: DURATION (seconds per run, default 10), CONNECTIONS (default "1 64"), ROUNDS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10}
connections=${CONNECTIONS:-"1 64"}
rounds=${ROUNDS:-3}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

swift build -c release --product noded >/dev/null
work=$(mktemp -d /tmp/outpost-bench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; [[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT

# noded, access log on (stderr to a file), the rate limiter on with room for wrk's one address.
# (and the 1,000-connection memory figure needs more than one address's default 256).
printf '[http]\nconnections_per_address_max = 100000\n[rate_limits]\nstandard_per_5min = 100000000\n' >"$work/noded.toml"
taskset -c 0 .build/release/noded --config "$work/noded.toml" --data-dir "$work/data" --listen 127.0.0.1:0 2>"$work/noded.log" &
noded_pid=$!
for _ in $(seq 200); do [[ -s $work/data/node.address ]] && break; sleep 0.05; done
noded_url=$(cat "$work/data/node.address")
sleep 1
noded_idle_kb=$(awk '/VmRSS/ {print $2}' "/proc/$noded_pid/status")

# nginx serving the node's own response body as a static file.
mkdir -p "$work/www/api/v1" "$work/nginx"
curl -s "$noded_url/api/v1/node" >"$work/www/api/v1/node"
chmod -R a+rX "$work"  # nginx's workers run as www-data
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log $work/nginx/access.log combined buffer=64k flush=1s;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  open_file_cache max=100 inactive=60s;
  open_file_cache_valid 60s;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
    location = /api/v1/node { default_type application/json; }
  }
}
CONF
taskset -c 0 nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -e "$work/nginx/error.log"
sleep 0.5
nginx_url="http://127.0.0.1:$nginx_port"

body_noded=$(curl -s "$noded_url/api/v1/node" | wc -c)
body_nginx=$(curl -s "$nginx_url/api/v1/node" | wc -c)
status_nginx=$(curl -s -o /dev/null -w '%{http_code}' "$nginx_url/api/v1/node")
if [[ $status_nginx != 200 || $((body_noded - body_nginx)) -gt 2 || $((body_nginx - body_noded)) -gt 2 ]]; then
  echo "bench: the two servers do not serve the same bytes (nginx $status_nginx, $body_nginx vs $body_noded bytes)" >&2
  exit 1
fi

# wrk prints "Requests/sec: N" and, with --latency, "50% 1.23ms" style lines.
to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); printf "%.3f", v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); printf "%.3f", v } else if (v ~ /s$/) { sub(/s$/,"",v); printf "%.3f", v*1000 } else print v }'; }
measure() { # url connections -> "rps p50 p99"
  local out
  taskset -c 1 wrk -t1 -c"$2" -d2s "$1/api/v1/node" >/dev/null  # warm-up
  out=$(taskset -c 1 wrk -t1 -c"$2" -d"${duration}s" --latency "$1/api/v1/node")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)
  p99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)
  echo "$rps $p50 $p99"
}

declare -A result
for round in $(seq "$rounds"); do
  for c in $connections; do
    result[noded,$c]+="$(measure "$noded_url" "$c")"$'\n'
    result[nginx,$c]+="$(measure "$nginx_url" "$c")"$'\n'
  done
done
# median and range of column $2 of the rounds in $1: "median (min-max)"
column() { awk -v col="$2" 'NF { print $col }' <<<"$1" | sort -g; }
median() { column "$1" "$2" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
stat() { column "$1" "$2" | awk '{ v[NR] = $1 } END { printf "%s (%s-%s)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }

# Resident memory at 1,000 open keep-alive connections, sampled mid-run.
rss_under_load() { # pid url
  taskset -c 1 wrk -t1 -c1000 -d6s "$2/api/v1/node" >/dev/null &
  local wrk_pid=$!
  sleep 4
  awk '/VmRSS/ {print $2}' "/proc/$1/status"
  wait "$wrk_pid"
}
noded_1000_kb=$(rss_under_load "$noded_pid" "$noded_url")
nginx_worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
nginx_idle_kb=$(awk '/VmRSS/ {print $2}' "/proc/$nginx_worker/status")
nginx_1000_kb=$(rss_under_load "$nginx_worker" "$nginx_url")
requests_logged=$(grep -c '"msg":"request"' "$work/noded.log" || true)

printf '\nGET /api/v1/node, keep-alive, server on core 0, wrk -t1 on core 1, %ss per run, median (range) of %s rounds\n' "$duration" "$rounds"
printf 'body bytes: noded %s, nginx %s (same bytes; uptime digits may differ)\n\n' "$body_noded" "$body_nginx"
printf '| %-5s | %-6s | %-30s | %-20s | %-20s |\n' conns server "req/s" "p50 ms" "p99 ms"
printf '|-------|--------|--------------------------------|----------------------|----------------------|\n'
for c in $connections; do
  for server in noded nginx; do
    rows=${result[$server,$c]}
    printf '| %-5s | %-6s | %-30s | %-20s | %-20s |\n' "$c" "$server" "$(stat "$rows" 1)" "$(stat "$rows" 2)" "$(stat "$rows" 3)"
  done
  ratio=$(awk -v a="$(median "${result[noded,$c]}" 1)" -v b="$(median "${result[nginx,$c]}" 1)" 'BEGIN{printf "%.2fx", a/b}')
  printf '| %-5s | %-6s | %-30s | %-20s | %-20s |\n' "$c" "ratio" "$ratio" "" ""
done
printf '\n| memory (RSS)        | noded      | nginx worker |\n|---------------------|------------|--------------|\n'
printf '| idle                | %7.1f MiB | %9.1f MiB |\n' "$(awk -v k="$noded_idle_kb" 'BEGIN{print k/1024}')" "$(awk -v k="$nginx_idle_kb" 'BEGIN{print k/1024}')"
printf '| 1,000 connections   | %7.1f MiB | %9.1f MiB |\n' "$(awk -v k="$noded_1000_kb" 'BEGIN{print k/1024}')" "$(awk -v k="$nginx_1000_kb" 'BEGIN{print k/1024}')"
printf '\nnoded access-log lines written: %s\n' "$requests_logged"
