#!/usr/bin/env python3
"""Catalog benchmark: one noded with N demo products (default 100,000), against references
measured in the same run.

- Product by id, Zipf-distributed over every product (the cache's workload): noded against
  nginx serving the same bytes as static files, wrk at 64 connections. The response cache's hit
  ratio over those runs comes from noded's /metrics.
- Search: the same queries against noded (HTTP, one connection, cache bypassed with a unique
  parameter, so every request is ranked) and tantivy (PyPI bindings, in process, no HTTP)
  indexing the same documents (names, descriptions, SKUs, attributes).
- Suggestions by prefix (HTTP, one connection, cache bypassed).
- The latency floor of one connection on this machine: nginx sending one small file, one
  request at a time (its p99 is scheduler jitter; shared machines show 1-3 ms).
- The import itself: seconds for N products and resident memory after it.

Each server runs pinned to core 0, wrk to core 1. Env: PRODUCTS, DURATION (s per wrk run,
default 10), ROUNDS (default 3; medians are shown with their range).
"""
import bisect, http.client, json, os, random, re, resource, shutil, socket, statistics, subprocess, sys, tempfile, time
from urllib.parse import quote

N = int(os.environ.get("PRODUCTS", "100000"))
DURATION = int(os.environ.get("DURATION", "10"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.path.join(ROOT, ".build", "release")
work = tempfile.mkdtemp(prefix="outpost-catalog-bench-")
# nginx keeps the hot files open (open_file_cache), like noded keeps its answers in memory.
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 262_144), hard))
children = []


def cleanup():
    for child in children:
        if child.poll() is None:
            child.terminate()
            child.wait()
    if os.path.exists(f"{work}/nginx.pid"):
        subprocess.run(["nginx", "-c", f"{work}/nginx/nginx.conf", "-p", f"{work}/nginx", "-s", "stop"], stderr=subprocess.DEVNULL)
    shutil.rmtree(work, ignore_errors=True)


import atexit
atexit.register(cleanup)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def get(host, path, headers={}):
    connection = http.client.HTTPConnection(host, timeout=600)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


def metrics(host):
    # /metrics takes the admin token (or an operator's) unless http.public_metrics is set.
    token = open(os.path.join(data, "admin.token")).read().strip()
    _, body = get(host, "/metrics", {"Authorization": "Bearer " + token})
    values = {}
    for line in body.decode().splitlines():
        if line.startswith(("outpost_cache_", "outpost_replica_")):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


# --- noded with the demo catalog -------------------------------------------------------------
data = os.path.join(work, "data")
os.makedirs(data)
with open(os.path.join(work, "noded.toml"), "w") as f:
    # The rate limiter on, with room for the bench's one address.
    f.write('[node]\nid = "bench"\nregion = "eu"\n[rate_limits]\nstandard_per_5min = 100000000\nsearch_per_minute = 100000000\n')
# NODED_BIN: another build of noded (an older one, measured in the same session).
noded = subprocess.Popen(["taskset", "-c", "0", os.environ.get("NODED_BIN", os.path.join(BIN, "noded")), "--config", os.path.join(work, "noded.toml"),
                          "--data-dir", data, "--listen", "127.0.0.1:0"], stderr=open(os.path.join(work, "noded.log"), "w"))
children.append(noded)
for _ in range(1000):
    if os.path.exists(os.path.join(data, "node.address")) and open(os.path.join(data, "node.address")).read().endswith("\n"):
        break
    time.sleep(0.01)
noded_host = open(os.path.join(data, "node.address")).read().strip()[len("http://"):]

started = time.time()
subprocess.run([os.path.join(BIN, "nodectl"), "catalog", "demo", "--products", str(N), "--data-dir", data, "--timeout-ms", "900000"],
               check=True, stdout=subprocess.DEVNULL)
import_seconds = time.time() - started
# The products leave memory once written behind (docs/memory.md): wait for that, at most 60 s.
for _ in range(600):
    if metrics(noded_host).get("outpost_replica_evictions_total", 0) > 0:
        break
    time.sleep(0.1)
time.sleep(1)
rss_after_import = rss_mib(noded.pid)

# Every product as shoppers get it, a page at a time: the documents for tantivy and the bytes
# nginx serves.
www = os.path.join(work, "www")
os.makedirs(os.path.join(www, "api", "v1", "products"))
documents = []
cursor = None
while True:
    path = "/api/v1/products?limit=100&facets=false&sort=newest" + (f"&cursor={quote(cursor)}" if cursor else "")
    status, body = get(noded_host, path)
    assert status == 200, body
    page = json.loads(body)
    for product in page["products"]:
        encoded = json.dumps(product, ensure_ascii=False, separators=(",", ":"))
        documents.append(product)
        with open(os.path.join(www, "api", "v1", "products", product["id"]), "wb") as f:
            f.write(encoded.encode())
    cursor = page["next"]
    if not cursor:
        break
assert len(documents) == N, f"{len(documents)} products listed, {N} imported"
sample_id = documents[0]["id"]
_, noded_body = get(noded_host, "/api/v1/products/" + sample_id)
same_bytes = noded_body == open(os.path.join(www, "api", "v1", "products", sample_id), "rb").read()

# --- nginx serving the same bytes ------------------------------------------------------------
subprocess.run(["chmod", "-R", "a+rX", work], check=True)
nginx_port = free_port()
os.makedirs(os.path.join(work, "nginx"))
with open(os.path.join(work, "nginx", "nginx.conf"), "w") as f:
    f.write(f"""worker_processes 1;
worker_rlimit_nofile 65536;
daemon on;
pid {work}/nginx.pid;
error_log {work}/nginx/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log {work}/nginx/access.log combined buffer=64k flush=1s;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  open_file_cache max=1000 inactive=60s;
  open_file_cache_valid 60s;
  server {{
    listen 127.0.0.1:{nginx_port};
    root {www};
    location /api/v1/products/ {{ default_type application/json; }}
  }}
}}
""")
subprocess.run(["taskset", "-c", "0", "nginx", "-c", f"{work}/nginx/nginx.conf", "-p", f"{work}/nginx", "-e", f"{work}/nginx/error.log"], check=True)
nginx_host = f"127.0.0.1:{nginx_port}"
status, nginx_body = get(nginx_host, "/api/v1/products/" + sample_id)
assert status == 200 and nginx_body == noded_body, "nginx and noded must serve the same bytes"

# --- workloads ---------------------------------------------------------------------------------
rng = random.Random(7)
# Zipf (s = 1) over every product, ranks shuffled so popularity is not catalog order.
ranked = [d["id"] for d in documents]
rng.shuffle(ranked)
weights = [1.0 / (rank + 1) for rank in range(N)]
cumulative, total = [], 0.0
for w in weights:
    total += w
    cumulative.append(total)
zipf_paths = ["/api/v1/products/" + ranked[bisect.bisect_left(cumulative, rng.random() * total)] for _ in range(200_000)]

words = lambda text: re.findall(r"[a-z0-9]+", text.lower())
queries = []
for d in rng.sample(documents, 300):
    name = words(d["name"])
    kind = rng.randrange(3)
    if kind == 0:
        queries.append(name[-1])  # the noun: "laptop"
    elif kind == 1:
        queries.append(name[0] + " " + name[-1])  # brand and noun
    else:
        colour = d["variants"][0]["attributes"].get("colour", "")
        queries.append((colour + " " + name[-1]).strip())
prefixes = []
for d in rng.sample(documents, 300):
    word = rng.choice(words(d["name"]) + words(d.get("description") or ""))
    prefixes.append(word[: rng.randint(2, min(5, len(word)))] if len(word) >= 2 else "la")


def lua(paths, unique):
    """A wrk script cycling through `paths`; `unique` appends a counter so no answer is cached."""
    listing = os.path.join(work, f"paths-{len(os.listdir(work))}.txt")
    with open(listing, "w") as f:
        f.write("\n".join(paths) + "\n")
    script = listing + ".lua"
    with open(script, "w") as f:
        f.write(f"""
local paths = {{}}
for line in io.lines("{listing}") do paths[#paths + 1] = line end
local i = math.random(#paths)
local n = 0
request = function()
  i = i % #paths + 1
  n = n + 1
  local path = paths[i]
  {"path = path .. '&r=' .. n" if unique else ""}
  return wrk.format("GET", path)
end
""")
    return script


def to_ms(value):
    for suffix, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * scale
    return float(value)


def wrk(host, script, connections, seconds):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, f"http://{host}"],
                         check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {m.group(1): to_ms(m.group(2)) for m in re.finditer(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        log = open(f"{work}/nginx/error.log").read()[-2000:] if os.path.exists(f"{work}/nginx/error.log") else ""
        sys.exit(f"wrk saw errors from {host}: {out}\nnginx error log: {log}")
    return rps, latency["50"], latency["99"]


def median_range(values, fmt):
    ordered = sorted(values)
    return f"{fmt.format(statistics.median(ordered))} ({fmt.format(ordered[0])}-{fmt.format(ordered[-1])})"


zipf_script = lua(zipf_paths, unique=False)
rows = {"noded": [], "nginx": []}
wrk(noded_host, zipf_script, 64, 3)  # warm-up: fills the cache the way traffic would
wrk(nginx_host, zipf_script, 64, 3)
before = metrics(noded_host)
for _ in range(ROUNDS):
    rows["noded"].append(wrk(noded_host, zipf_script, 64, DURATION))
    rows["nginx"].append(wrk(nginx_host, zipf_script, 64, DURATION))
after = metrics(noded_host)
hits = after["outpost_cache_hits_total"] - before["outpost_cache_hits_total"]
misses = after["outpost_cache_misses_total"] - before["outpost_cache_misses_total"]
hit_ratio = hits / max(1.0, hits + misses)
cache_mib = after["outpost_cache_bytes"] / 2**20
rss_after_zipf = rss_mib(noded.pid)

search_rows = {}
for label, suffix in (("search", "&facets=false"), ("search + facets", "")):
    script = lua([f"/api/v1/search?q={quote(q)}&limit=24{suffix}" for q in queries], unique=True)
    wrk(noded_host, script, 1, 3)
    search_rows[label] = [wrk(noded_host, script, 1, DURATION) for _ in range(ROUNDS)]
suggest_script = lua([f"/api/v1/search/suggest?q={quote(p)}" for p in prefixes], unique=True)
wrk(noded_host, suggest_script, 1, 3)
suggest_rows = [wrk(noded_host, suggest_script, 1, DURATION) for _ in range(ROUNDS)]
# The floor for one connection on this machine: nginx sending one small file, one request at a
# time. Its p99 is the scheduler's jitter, which no server here can go below.
floor_script = lua(["/api/v1/products/" + sample_id], unique=False)
wrk(nginx_host, floor_script, 1, 3)
floor_rows = [wrk(nginx_host, floor_script, 1, DURATION) for _ in range(ROUNDS)]

# --- tantivy on the same documents, in this process -------------------------------------------
import tantivy

builder = tantivy.SchemaBuilder()
builder.add_text_field("id", stored=True)
builder.add_text_field("body", stored=False)
schema = builder.build()
index = tantivy.Index(schema)
writer = index.writer(heap_size=256_000_000, num_threads=1)
started = time.time()
for d in documents:
    text = " ".join([d["name"], d.get("description") or ""] + [f"{k} {v}" for k, v in d["attributes"].items()]
                    + [v["sku"] + " " + " ".join(v["attributes"].values()) for v in d["variants"]])
    writer.add_document(tantivy.Document(id=d["id"], body=text))
writer.commit()
writer.wait_merging_threads()
index.reload()
tantivy_index_seconds = time.time() - started
searcher = index.searcher()
tantivy_rows = []
for _ in range(ROUNDS):
    latencies = []
    deadline = time.time() + DURATION
    i = 0
    while time.time() < deadline:
        q = queries[i % len(queries)]
        i += 1
        t0 = time.perf_counter()
        searcher.search(index.parse_query(q, ["body"]), 24)
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    tantivy_rows.append((len(latencies) / DURATION, latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]))

cleanup()

# --- the tables --------------------------------------------------------------------------------
print(f"\nCatalog: {N:,} demo products; servers pinned to core 0, wrk -t1 on core 1; {DURATION}s per run; median (range) of {ROUNDS} rounds\n")
print(f"import: {import_seconds:.1f} s ({N / import_seconds:,.0f} products/s); noded RSS after import {rss_after_import:.0f} MiB, "
      f"after the Zipf runs {rss_after_zipf:.0f} MiB (the response cache's 64 MiB included: {(rss_after_zipf - 64) * 1048576 / N:,.0f} bytes "
      f"per product besides it); tantivy indexed the same documents in {tantivy_index_seconds:.1f} s\n")
print("| workload | server | req/s | p50 ms | p99 ms | ratio |")
print("|---|---|---|---|---|---|")
for server in ("noded", "nginx"):
    r = rows[server]
    ratio = statistics.median(x[0] for x in rows["noded"]) / statistics.median(x[0] for x in rows["nginx"])
    print(f"| product by id, Zipf over {N:,}, 64 conns | {server} | {median_range([x[0] for x in r], '{:,.0f}')} | "
          f"{median_range([x[1] for x in r], '{:.2f}')} | {median_range([x[2] for x in r], '{:.2f}')} | {f'{ratio:.2f}x nginx' if server == 'noded' else ''} |")
tantivy_rate = statistics.median(x[0] for x in tantivy_rows)
for label, r in search_rows.items():
    ratio = statistics.median(x[0] for x in r) / tantivy_rate
    print(f"| {label} ({len(queries)} queries, 1 conn, uncached) | noded | {median_range([x[0] for x in r], '{:,.0f}')} | "
          f"{median_range([x[1] for x in r], '{:.2f}')} | {median_range([x[2] for x in r], '{:.2f}')} | {ratio:.2f}x tantivy |")
print(f"| search, same queries, top 24, in process | tantivy | {median_range([x[0] for x in tantivy_rows], '{:,.0f}')} | "
      f"{median_range([x[1] for x in tantivy_rows], '{:.2f}')} | {median_range([x[2] for x in tantivy_rows], '{:.2f}')} | |")
print(f"| suggest ({len(prefixes)} prefixes, 1 conn, uncached) | noded | {median_range([x[0] for x in suggest_rows], '{:,.0f}')} | "
      f"{median_range([x[1] for x in suggest_rows], '{:.2f}')} | {median_range([x[2] for x in suggest_rows], '{:.2f}')} | |")
print(f"| one product file, 1 conn (the machine's floor) | nginx | {median_range([x[0] for x in floor_rows], '{:,.0f}')} | "
      f"{median_range([x[1] for x in floor_rows], '{:.2f}')} | {median_range([x[2] for x in floor_rows], '{:.2f}')} | |")
print(f"\nresponse cache over the Zipf runs: hit ratio {hit_ratio:.1%} ({hits:,.0f} hits, {misses:,.0f} misses), {cache_mib:.0f} MiB held "
      f"(cache.bytes_max default 64 MiB); same bytes as nginx: {same_bytes}")
