#!/usr/bin/env python3
"""Feature-query benchmark (issue 4): the notebook's step-5 feature query over 10 million
generated events in an Iceberg table, on the kernel vs. DuckDB on the same Parquet files.

Run by hand (not part of tests/run), with the venv that tests/run creates (duckdb is pinned
in tests/requirements.txt):

    .cache/venv/bin/python tests/bench/feature_bench.py [--events 10000000] [--customers 100000]
        [--runs 3] [--cpu-limit 2] [--partitioned]

1. A kernel generates the events into `bench.customer_events` with the notebook's generator
   (range + random(); unpartitioned unless --partitioned, which needs PARTITIONED BY), and
   lists the table's data files (`bench.customer_events.files`). That kernel is shut down.
2. A fresh kernel (CPU_LIMIT as given) runs the feature query `--runs` times; the result (one
   row per customer) is computed in full, the kernel keeps the rows it shows and counts the
   rest. Time per run from execute_request to idle; peak RSS of the kernel process from
   /proc/<pid>/status (VmHWM; sampled VmRSS too), read from outside.
3. A fresh Python process runs the same query in DuckDB (threads = CPU_LIMIT) over
   read_parquet() of the same files, `--runs` times, materializing the whole result (a temp table);
   its peak RSS the same way.
4. The same two with the query's `COUNT(DISTINCT DATE(event_timestamp))` left out, to show
   what that one aggregate costs each engine.

Prints the figures and the ratios kernel / DuckDB (the goal: no slower than DuckDB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from queue import Empty

REPO = Path(__file__).resolve().parents[2]

FEATURES = """
WITH customer_stats AS (
    SELECT
        customer_id,
        COUNT(*) AS total_events,
        {active_days}
        SUM(CASE WHEN event_type = 'page_view' THEN 1 ELSE 0 END) AS page_views,
        SUM(CASE WHEN event_type = 'add_to_cart' THEN 1 ELSE 0 END) AS cart_adds,
        SUM(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) AS purchases,
        SUM(CASE WHEN event_type = 'review' THEN 1 ELSE 0 END) AS reviews,
        SUM(CASE WHEN event_type = 'search' THEN 1 ELSE 0 END) AS searches,
        SUM(CASE WHEN event_type = 'purchase' THEN amount ELSE 0 END) AS total_spent,
        AVG(CASE WHEN event_type = 'purchase' THEN amount ELSE NULL END) AS avg_purchase_value,
        {since_last} AS days_since_last_activity,
        {lifetime} AS customer_lifetime_days
    FROM {table}
    GROUP BY customer_id
)
SELECT
    customer_id, total_events, {active_days_out} page_views, cart_adds, purchases, reviews, searches,
    ROUND(total_spent, 2) AS total_spent,
    ROUND(COALESCE(avg_purchase_value, 0), 2) AS avg_purchase_value,
    ROUND(CASE WHEN cart_adds > 0 THEN CAST(purchases AS DOUBLE) / cart_adds ELSE 0 END, 3) AS conversion_rate,
    ROUND(CASE WHEN customer_lifetime_days > 0 THEN CAST(total_events AS DOUBLE) / customer_lifetime_days ELSE 0 END, 2) AS events_per_day,
    days_since_last_activity,
    customer_lifetime_days,
    CASE WHEN total_spent >= 1000 THEN 'high_value' WHEN total_spent >= 500 THEN 'medium_value'
         WHEN total_spent > 0 THEN 'low_value' ELSE 'no_purchase' END AS customer_segment
FROM customer_stats
"""


def feature_query(table: str, distinct: bool, duckdb: bool = False) -> str:
    """The step-5 query; DuckDB spells Spark's DATEDIFF(end, start) date_diff('day', start, end)."""
    def datediff(end: str, start: str) -> str:
        return f"date_diff('day', {start}, {end})" if duckdb else f"DATEDIFF({end}, {start})"
    # DuckDB has no DATE(); the kernel's DATE(x) is a cast to DATE.
    day = "CAST(event_timestamp AS DATE)" if duckdb else "DATE(event_timestamp)"
    return FEATURES.format(
        table=table,
        since_last=datediff("CURRENT_DATE", f"MAX({day})"),
        lifetime=datediff(f"MAX({day})", f"MIN({day})"),
        active_days=f"COUNT(DISTINCT {day}) AS active_days," if distinct else "",
        active_days_out="active_days," if distinct else "")


GENERATE = """
INSERT INTO bench.customer_events
SELECT
    'customer_' || lpad(CAST(customer AS STRING), 6, '0') AS customer_id,
    event_type,
    to_timestamp_seconds(to_unixtime(TIMESTAMP '2025-01-16 00:00:00') + 86399 - offset_seconds) AS event_timestamp,
    'prod_' || lpad(CAST(product AS STRING), 3, '0') AS product_id,
    CASE WHEN event_type = 'purchase' THEN round(10.0 + random() * 490.0, 2) ELSE 0.0 END AS amount
FROM (
    SELECT
        1 + CAST(floor(random() * {customers}) AS BIGINT) AS customer,
        CASE CAST(floor(random() * 5) AS INT)
            WHEN 0 THEN 'page_view' WHEN 1 THEN 'add_to_cart' WHEN 2 THEN 'purchase'
            WHEN 3 THEN 'review' ELSE 'search'
        END AS event_type,
        CAST(floor(random() * 90) AS BIGINT) * 86400 + CAST(floor(random() * 24) AS BIGINT) * 3600
            + CAST(floor(random() * 60) AS BIGINT) * 60 AS offset_seconds,
        1 + CAST(floor(random() * 50) AS BIGINT) AS product
    FROM range({events})
) AS generated
"""

DUCKDB_RUN = r'''
import json, sys, time
import duckdb
cfg = json.loads(sys.argv[1])
con = duckdb.connect()
con.execute(f"SET threads = {cfg['threads']}")
files = ", ".join("'" + f.replace("'", "''") + "'" for f in cfg["files"])
con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{files}])")
out = []
for q in cfg["queries"]:
    times = []
    for _ in range(cfg["runs"]):
        t0 = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP TABLE result AS {q}")
        n = con.execute("SELECT count(*) FROM result").fetchone()[0]
        times.append(time.perf_counter() - t0)
    out.append({"times": times, "rows": n})
with open("/proc/self/status") as f:
    hwm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
print("BENCH " + json.dumps({"results": out, "hwm": hwm, "version": duckdb.__version__}))
'''


def status_bytes(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


class Kernel:
    """A kernel through jupyter_client, on the bench's catalog."""

    def __init__(self, env: dict[str, str]) -> None:
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="lakehouse")
        self.km.start_kernel(env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.pid = self.km.provisioner.process.pid

    def run(self, code: str, timeout: float = 3600) -> tuple[str, str]:
        msg_id = self.kc.execute(code)
        parts = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError(code) from None
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            t, c = msg["msg_type"], msg["content"]
            if t == "status" and c["execution_state"] == "idle":
                break
            # The live status line ("Running 1.2 s · 182,172 rows read") is a display with a
            # display_id, updated in place: not a result (its counts are not the result's rows).
            if t == "display_data" and c.get("transient", {}).get("display_id"):
                continue
            if t in ("execute_result", "display_data"):
                parts.append(c["data"].get("text/plain", ""))
            elif t == "stream":
                parts.append(c["text"])
            elif t == "error":
                parts.append(f"{c['ename']}: {c['evalue']}")
        reply = self.kc.get_shell_msg(timeout=timeout)
        return reply["content"]["status"], "\n".join(parts)

    def ok(self, code: str, timeout: float = 3600) -> str:
        status, text = self.run(code, timeout)
        if status != "ok":
            raise SystemExit(f"kernel failed on {code[:200]!r}:\n{text[-3000:]}")
        return text

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def rows_of(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[v.strip() for v in line.strip("|").split("|")] for line in lines[1:]]


def total_rows(text: str) -> int | None:
    m = re.search(r"showing \d[\d,]* of ([\d,]+) rows", text) or re.search(r"([\d,]+) rows?\b", text)
    return int(m.group(1).replace(",", "")) if m else None


class Poller(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak = pid, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, status_bytes(self.pid, "VmRSS"))
            except FileNotFoundError:
                return
            time.sleep(0.02)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpu-limit", default="2")
    ap.add_argument("--partitioned", action="store_true", help="PARTITIONED BY (days(event_timestamp))")
    ap.add_argument("--work", help="reuse this folder's catalog (skips generating when the table is there)")
    ap.add_argument("--dialect", choices=["spark", "datafusion"], default="spark",
                    help="the kernel's SQL dialect (LAKEHOUSE_DIALECT), to compare the Spark dialect's cost")
    ap.add_argument("--iceberg-reader", choices=["datafusion", "iceberg"], default="datafusion",
                    help="the reader of the table's data files (LAKEHOUSE_ICEBERG_READER), to compare")
    ap.add_argument("--no-distinct-rewrite", action="store_true",
                    help="turn off the kernel's COUNT(DISTINCT) rewrites (LAKEHOUSE_NO_DISTINCT_REWRITE), to compare")
    args = ap.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="lakehouse-feature-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "empty.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    env.update(LAKEHOUSE_HOME=str(work / "home"), LAKEHOUSE_CONFIG=str(work / "empty.toml"),
               LAKEHOUSE_STARTUP_FILE="none", CPU_LIMIT=args.cpu_limit, LAKEHOUSE_MAX_COL_WIDTH="100000")
    env.pop("MEM_LIMIT", None)

    # 1. The data.
    k = Kernel(env)
    try:
        k.ok("CREATE SCHEMA IF NOT EXISTS bench")
        exists = "customer_events" in k.ok("SHOW TABLES")
        if not exists:
            part = " PARTITIONED BY (days(event_timestamp))" if args.partitioned else ""
            k.ok("CREATE TABLE bench.customer_events (customer_id STRING, event_type STRING, "
                 f"event_timestamp TIMESTAMP, product_id STRING, amount DOUBLE){part}")
            t0 = time.perf_counter()
            k.ok(GENERATE.format(events=args.events, customers=args.customers))
            print(f"generated {args.events:,} events of {args.customers:,} customers in {time.perf_counter() - t0:.1f} s")
        k.ok(f"SET lakehouse.max_rows = 1000000")
        files = [r[0] for r in rows_of(k.ok("SELECT file_path, record_count FROM bench.customer_events.files"))]
        n = rows_of(k.ok("SELECT count(*) FROM bench.customer_events"))[0][0]
    finally:
        k.close()
    paths = [f[len("file://"):] if f.startswith("file://") else f for f in files]
    size = sum(os.path.getsize(p) for p in paths)
    print(f"table bench.customer_events: {n} rows in {len(paths)} Parquet files, {size / 2**20:.0f} MiB; "
          f"CPU_LIMIT={args.cpu_limit}")

    # 2. The kernel.
    env["LAKEHOUSE_DIALECT"] = args.dialect
    env["LAKEHOUSE_ICEBERG_READER"] = args.iceberg_reader
    print(f"the kernel's dialect: {args.dialect}; Iceberg reader: {args.iceberg_reader}")
    if args.no_distinct_rewrite:
        env["LAKEHOUSE_NO_DISTINCT_REWRITE"] = "1"
        print("the kernel's COUNT(DISTINCT) rewrites are off")
    queries = {"with COUNT(DISTINCT day)": True, "without it": False}
    kernel_results = {}
    k = Kernel(env)
    try:
        k.ok("SELECT 1")
        base = status_bytes(k.pid, "VmRSS")
        for label, distinct in queries.items():
            q = feature_query("bench.customer_events", distinct)
            times, out_rows = [], None
            poller = Poller(k.pid)
            poller.start()
            for _ in range(args.runs):
                t0 = time.perf_counter()
                text = k.ok(q)
                times.append(time.perf_counter() - t0)
                out_rows = total_rows(text)
            poller.stop.set()
            poller.join()
            kernel_results[label] = {"times": times, "rows": out_rows,
                                     "hwm": status_bytes(k.pid, "VmHWM"), "rss": poller.peak}
        plan = k.ok("EXPLAIN " + feature_query("bench.customer_events", True))
    finally:
        k.close()
    m = re.search(r"Iceberg(Split|Table)Scan[^|\n]*", plan)
    scan = m.group(0).strip() if m else "?"
    print(f"kernel idle RSS {base / 2**20:.0f} MiB; scan: {scan[:160]}")

    # 3. DuckDB.
    cfg = {"threads": int(float(args.cpu_limit) + 0.999), "files": paths, "runs": args.runs,
           "queries": [feature_query("events", d, duckdb=True) for d in queries.values()]}
    proc = subprocess.run([sys.executable, "-c", DUCKDB_RUN, json.dumps(cfg)], capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"DuckDB failed:\n{proc.stderr[-3000:]}")
    duck = json.loads(lines[-1][6:])

    print(f"\n=== feature query benchmark ({n} events, {args.runs} runs each; DuckDB {duck['version']}) ===")
    print(f"{'query':28} {'kernel s (median)':>18} {'DuckDB s (median)':>18} {'kernel/DuckDB':>14} {'rows k/d':>16}")
    for (label, kr), dr in zip(kernel_results.items(), duck["results"]):
        km_, dm = statistics.median(kr["times"]), statistics.median(dr["times"])
        print(f"{label:28} {km_:18.2f} {dm:18.2f} {km_ / dm:13.2f}x {str(kr['rows']) + '/' + str(dr['rows']):>16}")
        print(f"{'':28} runs kernel {', '.join(f'{t:.2f}' for t in kr['times'])}; "
              f"DuckDB {', '.join(f'{t:.2f}' for t in dr['times'])}")
    hwm = max(r["hwm"] for r in kernel_results.values())
    print(f"peak RSS: kernel {hwm / 2**20:.0f} MiB (VmHWM of the query kernel), DuckDB process {duck['hwm'] / 2**20:.0f} MiB")
    print("goal: kernel no slower than DuckDB (ratio <= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
