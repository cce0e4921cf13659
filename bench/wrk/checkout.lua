-- wrk script for bench/checkout.sh. Each thread walks its own carts (guest-<n as 32 hex>, n =
-- i * threads + thread index), so the "fill" run and the "checkout" run visit the same carts in
-- the same order: fill puts one line in each, checkout pays for each with the sandbox's tok_visa.
local created = 0
local threads = {}

function setup(thread)
  thread:set("tid", created)
  created = created + 1
  table.insert(threads, thread)
end

function init(args)
  mode = args[1]
  nthreads = tonumber(args[2])
  i = 0
  ok = 0
  bad = 0
  body = '{"email":"bench@example.com","payment_token":"tok_visa","ship_to":{"line1":"1 Bench Road","city":"Berlin","postal_code":"10115","country":"DE"}}'
end

function request()
  local n = i * nthreads + tid
  i = i + 1
  local cart = string.format("guest-%032x", n)
  if mode == "fill" then
    return wrk.format("PUT", "/api/v1/carts/" .. cart .. "/lines/BENCH-1", {["Content-Type"] = "application/json"}, '{"quantity":1}')
  end
  return wrk.format("POST", "/api/v1/carts/" .. cart .. "/checkout",
                    {["Content-Type"] = "application/json", ["Idempotency-Key"] = "bench-" .. n}, body)
end

function response(status, headers, body)
  if status == 200 or status == 201 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local good, failed = 0, 0
  for _, thread in ipairs(threads) do
    good = good + thread:get("ok")
    failed = failed + thread:get("bad")
  end
  io.write(string.format("RESULT ok=%d bad=%d seconds=%.3f p50_ms=%.3f p99_ms=%.3f\n", good, failed,
                         summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
