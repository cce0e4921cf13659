#!/usr/bin/env bash
# What webhooks cost a checkout (docs/notifications.md): checkouts per second with no webhook
# endpoint, then with three endpoints subscribed to every event type, in the same run, the
# receivers an nginx answering 204 on wrk's core. After each round with endpoints, how far the
# deliveries got: delivered, still pending, given up (they go on after the measurement; a
# receiver one request at a time per endpoint sets the pace).
#
# Env: DURATION (default 10), CONNECTIONS (64), ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup webhooks

start_nginx 1 'server { listen 127.0.0.1:$NGINX_PORT; location / { return 204; } }'
receiver_port=$NGINX_PORT

terms=$'tax_rate_bp = 1900\nshipping_flat_fee = 495\n[webhooks]\nallow_http = true'
none() { :; }
three() {
  for name in erp accounting warehouse; do
    curl -sf -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$NODE_URL/admin/v1/webhooks" \
      -d "{\"url\":\"http://127.0.0.1:$receiver_port/$name\"}"
  done
}

run_rounds "$terms" none bench/wrk/checkout.lua checkout
print_rounds_table "checkout, no webhook endpoint" "checkouts"
without=("${results[@]}")
rm -rf "$work"/data-*  # the next rounds start from empty stores again

after_round() {
  curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$NODE_URL/admin/v1/notifications/status" >"$work/deliveries-$1.json"
}
run_rounds "$terms" three bench/wrk/checkout.lua checkout
print_rounds_table "checkout, three webhook endpoints (every event type)" "checkouts"

python3 - "$work" "$rounds" "${without[@]}" -- "${results[@]}" <<'PY'
import json, re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
split = sys.argv.index("--")
rate = lambda line: (lambda f: float(f["ok"]) / float(f["seconds"]))(dict(re.findall(r"(\w+)=([\d.]+)", line)))
off, on = [rate(l) for l in sys.argv[3:split]], [rate(l) for l in sys.argv[split + 1:]]
print("\n| webhooks, same run | value |")
print("|---|---|")
print(f"| checkouts/s with three endpoints ÷ with none (medians) | {statistics.median(on) / statistics.median(off):.2f}x |")
for r in range(1, rounds + 1):
    w = json.load(open(f"{work}/deliveries-{r}.json"))["webhooks"]
    print(f"| round {r}: deliveries when the measurement ended: delivered / pending / given up | {w['delivered']:,} / {w['pending']:,} / {w['dead']:,} |")
PY
