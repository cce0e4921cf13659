-- Shared by the wrk scripts of bench/checkout.sh and bench/pos.sh (loaded with dofile; wrk runs
-- from the repository's top). Each thread is told its index, so a script can walk its own ids;
-- 200 and 201 count as done, anything else as refused, and the run ends with one RESULT line.
local created = 0
local threads = {}

function setup(thread)
  thread:set("tid", created)
  created = created + 1
  table.insert(threads, thread)
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
