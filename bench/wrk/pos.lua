-- wrk script for bench/pos.sh. Each thread walks its own sales (b-<n as hex>, n = i * threads +
-- thread index), so the "fill" run and the "complete" run visit the same sales in the same order:
-- fill rings up one BENCH-1 on each, complete pays for each, cash (20.00 tendered) and card
-- (the sandbox's tok_visa) in turn. Every request carries the cashier's session.
dofile("bench/wrk/common.lua")

function init(args)
  mode = args[1]
  nthreads = tonumber(args[2])
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[3]}
  i = 0
  ok = 0
  bad = 0
end

function request()
  local n = i * nthreads + tid
  i = i + 1
  local sale = string.format("/pos/v1/sales/b-%x", n)
  if mode == "fill" then
    return wrk.format("PUT", sale, headers, '{"lines":[{"sku":"BENCH-1","quantity":1}]}')
  end
  local tender = '{"kind":"cash","tendered":2000}'
  if n % 2 == 1 then tender = '{"kind":"card","token":"tok_visa"}' end
  return wrk.format("POST", sale .. "/complete", headers, '{"tenders":[' .. tender .. ']}')
end
