-- wrk script for bench/checkout.sh. Each thread walks its own carts (guest-<n as 32 hex>, n =
-- i * threads + thread index), so the "fill" run and the "checkout" run visit the same carts in
-- the same order: fill puts one line in each, checkout pays for each with the sandbox's tok_visa.
dofile("bench/wrk/common.lua")

function init(args)
  mode = args[1]
  nthreads = tonumber(args[2])
  -- bench/backoffice.sh: carts take one of this many products (BENCH-1 ... BENCH-<skus>) in turn.
  skus = tonumber(args[3] or "1")
  -- ... and only the first <limit> carts are visited; past them a request is GET /healthz.
  limit = tonumber(args[4] or "0")
  i = 0
  ok = 0
  bad = 0
  body = '{"email":"bench@example.com","payment_token":"tok_visa","ship_to":{"line1":"1 Bench Road","city":"Berlin","postal_code":"10115","country":"DE"}}'
end

function request()
  local n = i * nthreads + tid
  i = i + 1
  if limit > 0 and n >= limit then return wrk.format("GET", "/healthz") end
  local cart = string.format("guest-%032x", n)
  if mode == "fill" then
    local sku = skus > 1 and ("BENCH-" .. (n % skus + 1)) or "BENCH-1"
    return wrk.format("PUT", "/api/v1/carts/" .. cart .. "/lines/" .. sku, {["Content-Type"] = "application/json"}, '{"quantity":1}')
  end
  return wrk.format("POST", "/api/v1/carts/" .. cart .. "/checkout",
                    {["Content-Type"] = "application/json", ["Idempotency-Key"] = "bench-" .. n}, body)
end
