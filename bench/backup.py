"""Backups of a large store (docs/backups.md): a full of a store with PRODUCTS products and
SIZE orders, against copying the same database with SQLite's own backup API in the same run;
then the recovery time: `nodectl backup restore` of that full, and noded from spawn to /readyz
on the restored directory.

The store is grown as bench/startup.py grows it (ORDERS_SEED real checkouts, then their rows
copied under new ids), with PRODUCTS demo products imported through noded first.

Env: PRODUCTS (100000), SIZE (100000), ORDERS_SEED (2000). Argument: the backup key file.
"""
import os, shutil, sqlite3, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import startup  # noqa: E402  (start, stop, seed, grow, call)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODECTL = os.path.join(ROOT, ".build/release/nodectl")
PRODUCTS = int(os.environ.get("PRODUCTS", "100000"))
SIZE = int(os.environ.get("SIZE", "100000"))


def main():
    key = sys.argv[1]
    work = tempfile.mkdtemp(prefix="outpost-backup-bench-")
    try:
        config = os.path.join(work, "node.toml")
        open(config, "w").write(startup.CONFIG)
        data = os.path.join(work, "store")
        startup.seed(data, config)
        proc, _, _ = startup.start(data, config)
        subprocess.run([NODECTL, "catalog", "demo", "--products", str(PRODUCTS), "--data-dir", data, "--timeout-ms", "900000"],
                       check=True, stdout=subprocess.DEVNULL)
        startup.stop(proc)
        startup.grow(os.path.join(data, "node.sqlite"), SIZE)
        database_bytes = os.path.getsize(os.path.join(data, "node.sqlite"))

        # The reference: SQLite's online backup API copying the same file, same disk.
        began = time.monotonic()
        source, copy = sqlite3.connect(os.path.join(data, "node.sqlite")), sqlite3.connect(os.path.join(work, "copy.sqlite"))
        source.backup(copy)
        copy.close(); source.close()
        reference = time.monotonic() - began

        # The full noded takes at start with [backup] on, timed from its start to the file in place.
        backups = os.path.join(work, "backups")
        open(config, "a").write(f'[backup]\ndirectory = "{backups}"\nkey_file = "{key}"\n')
        proc, ready, addr = startup.start(data, config)
        token = open(os.path.join(data, "admin.token")).read().strip()
        began = time.monotonic()
        while True:
            _, status = startup.call(addr, "GET", "/admin/v1/backups", token=token)
            if status.get("last_full") and not status.get("full_running"):
                break
            if status.get("last_error"):
                sys.exit("the full failed: " + status["last_error"])
            time.sleep(0.05)
        full_seconds = time.monotonic() - began + ready
        full_bytes = status["last_full_bytes"]
        startup.stop(proc)

        restored = os.path.join(work, "restored")
        began = time.monotonic()
        subprocess.run([NODECTL, "backup", "restore", "--dir", backups, "--node", "store-1", "--key-file", key, "--to", restored],
                       check=True, stdout=subprocess.DEVNULL)
        restore_seconds = time.monotonic() - began
        os.remove(os.path.join(restored, "restored-from-backup.json"))  # no peers here to catch up with
        open(config, "w").write(startup.CONFIG)
        proc, start_seconds, _ = startup.start(restored, config)
        startup.stop(proc)

        print(f"\n| backups of a store with {PRODUCTS:,} products and {SIZE:,} orders | value |")
        print("|---|---|")
        print(f"| database file | {database_bytes / 1e6:,.0f} MB |")
        print(f"| full backup (VACUUM INTO, zstd, AES-256-GCM), noded start to file in place | {full_seconds:.1f} s, {full_bytes / 1e6:,.0f} MB ({full_bytes / database_bytes:.0%} of the database) |")
        print(f"| reference: SQLite's backup API copying the same file | {reference:.1f} s |")
        print(f"| full ÷ reference | {full_seconds / reference:.1f}x |")
        print(f"| restore (nodectl backup restore: decrypt, write, check) | {restore_seconds:.1f} s |")
        print(f"| noded on the restored directory, spawn to /readyz | {start_seconds:.1f} s |")
        print(f"| recovery time (restore + start), the RTO of this drill | {restore_seconds + start_seconds:.1f} s |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
