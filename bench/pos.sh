#!/usr/bin/env bash
# Completed till sales per second against one noded (synchronous=FULL, group commit), with a
# plain SQLite insert loop in the same fsync mode measured in the same run as the reference.
#
# noded is pinned to core 0, wrk to core 1. A till is paired, a cashier signs in and opens a
# shift (through the real POS API). First wrk rings up sales (one line each) for twice DURATION,
# then completes them for DURATION seconds over CONNECTIONS connections, half paid in cash, half
# by card through the sandbox acquirer: each completion prices the basket again, takes stock,
# records one payment (durable before the acquirer hears of it), places the order, captures the
# payment, hands the goods over and keeps the receipt (two group commits, and the sandbox's own
# durable row for a card). The answer is the receipt, JSON with its 42-column text.
#
# Env: DURATION (default 10), CONNECTIONS (default 64), ROUNDS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup pos

# Pairs a till, signs a cashier in and opens a shift; prints the cashier's session token.
open_till() {
  local admin=(-sf -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json')
  curl "${admin[@]}" -o /dev/null -X PUT "$NODE_URL/admin/v1/pos/staff/bench" -d '{"name":"Bench","role":"cashier","pin":"1234"}'
  local code key session
  code=$(curl "${admin[@]}" "$NODE_URL/admin/v1/pos/pairing-codes" -d '{"name":"Bench till"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
  key=$(curl -sf -H 'Content-Type: application/json' "$NODE_URL/pos/v1/pair" -d "{\"code\":\"$code\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["credential"])')
  session=$(curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/json' "$NODE_URL/pos/v1/sessions" -d '{"staff":"bench","pin":"1234"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  curl -sf -o /dev/null -H "Authorization: Bearer $session" -H 'Content-Type: application/json' "$NODE_URL/pos/v1/shifts" -d '{"id":"bench-shift","float":100000,"currency":"EUR"}'
  echo "$session"
}

run_rounds $'tax_rate_bp = 1900\nprices_include_tax = true' open_till bench/wrk/pos.lua complete
print_rounds_table "till sales completed, one node, synchronous=FULL, group commit, half cash half card" "sales"
