-- wrk script for bench/pos.sh. Each thread walks its own sales (b-<n as hex>, n = i * threads +
-- thread index), so the "fill" run and the "complete" run visit the same sales in the same order:
-- fill rings up one BENCH-1 on each, complete pays for each, cash (20.00 tendered) and card
-- (the sandbox's tok_visa) in turn. Every request carries the cashier's session.
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
