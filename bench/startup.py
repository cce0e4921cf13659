"""Start-up time against history (issue 24, item 22): spawn to ready (/readyz 200) for a store
with 100k and 1M orders, beside the same noded on an empty data directory in the same run.

The history is real orders multiplied: ORDERS_SEED checkouts go through noded (payment, stock,
order events, sealed contact key), then the database is grown to each size by copying those
orders' replicated rows (orders, payments, their contact keys) and view rows under new ids, which
is what that many checkouts would have left after write-behind (compacted, no log). Each size is
started ROUNDS times (median); RSS is read once ready.

Env: ORDERS_SEED (2000), SIZES (100000,1000000), ROUNDS (3).
"""
import http.client, json, os, shutil, signal, sqlite3, statistics, subprocess, sys, tempfile, time, uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODED = os.path.join(ROOT, ".build/release/noded")
SEED = int(os.environ.get("ORDERS_SEED", "2000"))
SIZES = [int(s) for s in os.environ.get("SIZES", "100000,1000000").split(",")]
ROUNDS = int(os.environ.get("ROUNDS", "3"))
CONFIG = """[node]
id = "store-1"
region = "eu"
[checkout]
tax_rate_bp = 1900
shipping_flat_fee = 495
[log]
access_log = false
[rate_limits]
enabled = false
"""


def start(data, config):
    began = time.monotonic()
    proc = subprocess.Popen(["taskset", "-c", "0", NODED, "--config", config, "--data-dir", data, "--listen", "127.0.0.1:0"],
                            stdout=subprocess.DEVNULL, stderr=open(data + ".log", "ab"))
    address = os.path.join(data, "node.address")
    while True:
        if proc.poll() is not None:
            sys.exit(f"noded exited {proc.returncode}; see {data}.log")
        try:
            text = open(address).read()
            if text.endswith("\n"):
                host, port = text.strip().removeprefix("http://").rsplit(":", 1)
                conn = http.client.HTTPConnection(host, int(port), timeout=5)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return proc, time.monotonic() - began, (host, int(port))
        except (FileNotFoundError, ConnectionError, OSError):
            pass
        time.sleep(0.002)


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)


def call(addr, method, path, body=None, token=None, key=None):
    conn = http.client.HTTPConnection(*addr, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token: headers["Authorization"] = "Bearer " + token
    if key: headers["Idempotency-Key"] = key
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, (json.loads(data) if data else {})


def seed(data, config):
    proc, _, addr = start(data, config)
    token = open(os.path.join(data, "admin.token")).read().strip()
    call(addr, "POST", "/admin/v1/catalog/products", {"id": "bench", "status": "active", "name": {"en": "Bench"},
         "variants": [{"sku": "BENCH-1", "prices": [{"region": "eu", "currency": "EUR", "amount": 1999}]}]}, token)
    call(addr, "POST", "/admin/v1/inventory/receive", {"sku": "BENCH-1", "units": 1000000}, token)
    body = {"email": "kim@example.com", "payment_token": "tok_visa",
            "ship_to": {"name": "Kim", "line1": "1 High St", "city": "Berlin", "postal_code": "10115", "country": "DE"}}
    for _ in range(SEED):
        status, cart = call(addr, "POST", "/api/v1/carts")
        call(addr, "PUT", f"/api/v1/carts/{cart['id']}/lines/BENCH-1", {"quantity": 1})
        status, _ = call(addr, "POST", f"/api/v1/carts/{cart['id']}/checkout", body, key=str(uuid.uuid4()))
        assert status == 201, status
    stop(proc)


def grow(database, orders):
    """Copies the seed orders' rows under new ids until the store holds `orders`."""
    db = sqlite3.connect(database)
    have = db.execute("SELECT count(*) FROM orders_view").fetchone()[0]
    while have < orders:
        copy = have // SEED
        n = min(SEED, orders - have)
        suffix = f".c{copy}"
        db.execute("BEGIN")
        db.execute(f"""INSERT INTO replicated_state(collection, key, state)
            SELECT collection, key || '{suffix}', state FROM replicated_state WHERE collection = 'orders' AND key NOT LIKE '%.c%' LIMIT {n}""")
        db.execute(f"""INSERT INTO replicated_state(collection, key, state)
            SELECT collection, key || '{suffix}', state FROM replicated_state WHERE collection = 'payments' AND key NOT LIKE '%.c%' LIMIT {n}""")
        db.execute(f"""INSERT INTO replicated_state(collection, key, state)
            SELECT collection, key || '{suffix}', state FROM replicated_state WHERE collection = 'customers' AND key LIKE 'orderkey:%' AND key NOT LIKE '%.c%' LIMIT {n}""")
        db.execute(f"""INSERT INTO orders_view(id, number, customer, node, status, placed_ms, total, currency, reserved_until_ms, cancellation_raced)
            SELECT id || '{suffix}', number || '{suffix}', customer, node, status, placed_ms, total, currency, reserved_until_ms, cancellation_raced
            FROM orders_view WHERE id NOT LIKE '%.c%' LIMIT {n}""")
        db.execute("COMMIT")
        have += n
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def main():
    if not os.path.exists(NODED):
        sys.exit("build noded for release first (swift build -c release --product noded)")
    work = tempfile.mkdtemp(prefix="outpost-startup-bench-")
    try:
        config = os.path.join(work, "node.toml")
        open(config, "w").write(CONFIG)
        rows = []
        empty = os.path.join(work, "empty")
        times, rss = [], []
        for _ in range(ROUNDS):
            proc, took, _ = start(empty, config)
            rss.append(rss_mib(proc.pid)); times.append(took)
            stop(proc)
        fresh = statistics.median(times)
        rows.append(("an empty store (the reference)", 0, 0, fresh, statistics.median(rss)))
        data = os.path.join(work, "store")
        seed(data, config)
        for size in SIZES:
            grow(os.path.join(data, "node.sqlite"), size)
            megabytes = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data) if f.startswith("node.sqlite")) / 1e6
            times, rss = [], []
            for _ in range(ROUNDS):
                proc, took, _ = start(data, config)
                rss.append(rss_mib(proc.pid)); times.append(took)
                stop(proc)
            rows.append((f"{size:,} orders", size, megabytes, statistics.median(times), statistics.median(rss)))
        print(f"\n| start-up: spawn to /readyz 200, one core, median of {ROUNDS} | orders | database MB | seconds | × empty | RSS MiB when ready |")
        print("|---|---|---|---|---|---|")
        for name, orders, megabytes, took, memory in rows:
            print(f"| {name} | {orders:,} | {megabytes:,.0f} | {took:.2f} | {took / fresh:.1f}× | {memory:,.0f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
