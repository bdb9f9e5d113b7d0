#!/usr/bin/env python3
"""MERGE INTO benchmark (issue 16): an upsert of --source rows (half of them update rows
spread over the whole table, half are new) into a --rows-row Iceberg table on Nessie + S3,
in the kernel and in local Spark with the Iceberg runtime, in the same run.

Run by hand (not part of tests/run), with the venv that tests/run creates and the test
services in the environment:

    eval "$(python3 -m tests.services start)"
    .cache/venv/bin/python tests/bench/merge_bench.py [--rows 10000000] [--source 100000] [--runs 2]

1. A kernel writes `bench_merge.target` (id, customer, qty, amount) and `bench_merge.source`
   on a Nessie branch of their own (`merge_bench_<pid>`).
2. Each run makes two branches from that one, then, interleaved, runs the same statement
       MERGE INTO bench_merge.target t USING bench_merge.source s ON t.id = s.id
       WHEN MATCHED THEN UPDATE SET qty = s.qty, amount = s.amount
       WHEN NOT MATCHED THEN INSERT *
   in a fresh kernel on the first branch and in a fresh Spark session (local[2], 1 GiB
   driver, Iceberg's default copy-on-write) on the second. Time: from the request to the
   answer, session start-up excluded. Memory: the process's peak RSS (VmHWM; for Spark, the
   JVM's), and its RSS before the statement.
3. Both branches must then hold the same rows (count, sums of qty and amount, count of
   updated rows): a different answer fails the benchmark.

Prints the figures and the ratio kernel / Spark.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from interrupt_bench import BIN, Session, plain  # noqa: E402
from services.spark import SparkSQL  # noqa: E402

MERGE = """MERGE INTO bench_merge.target t USING bench_merge.source s ON t.id = s.id
WHEN MATCHED THEN UPDATE SET qty = s.qty, amount = s.amount
WHEN NOT MATCHED THEN INSERT *"""

CHECK = ("SELECT count(*) AS n, sum(qty) AS q, round(sum(amount), 2) AS a, "
         "sum(CASE WHEN qty >= 1000 THEN 1 ELSE 0 END) AS updated FROM bench_merge.target")


def status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(p.name))
    return out


def jvm_of(pid: int) -> int:
    """The Spark worker's JVM (its descendant running java)."""
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            if "java" in Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0].decode():
                return p
        except OSError:
            pass
        todo += children(p)
    raise RuntimeError("no JVM under the Spark worker")


def mib(b: int) -> str:
    return f"{b / 2**20:,.0f} MiB"


def kernel_env(work: Path, ref: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "CPU_LIMIT", "MEM_LIMIT"))}
    env.update(LAKEHOUSE_HOME=str(work / "home"), LAKEHOUSE_CONFIG=str(work / "empty.toml"),
               LAKEHOUSE_STARTUP_FILE="none", LAKEHOUSE_WAREHOUSE=os.environ.get("LAKEHOUSE_WAREHOUSE", ""),
               NESSIE_REF=ref, LAKEHOUSE_MAX_ROWS="50")
    return env


def numbers(text: str) -> list[str]:
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [v.strip() for v in rows[-1].strip("|").split("|")] if rows else []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--source", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--kernel", type=Path, default=BIN)
    args = ap.parse_args()
    if not os.environ.get("NESSIE_URI"):
        print('NESSIE_URI is not set: eval "$(python3 -m tests.services start)" first')
        return 2
    print(f"kernel {args.kernel}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="lakehouse-merge-bench-"))
    (work / "empty.toml").write_text("")
    base = f"merge_bench_{os.getpid()}"
    n, m = args.rows, args.source

    loader = Session(args.kernel, kernel_env(work, "main"), work)
    try:
        loader.ok(f"CREATE BRANCH {base} FROM main")
        loader.ok(f"USE REFERENCE {base}")
        loader.ok("CREATE SCHEMA IF NOT EXISTS bench_merge")
        t0 = time.perf_counter()
        loader.ok(f"""CREATE TABLE bench_merge.target AS
            SELECT value AS id, 'c' || CAST(value % 1000 AS STRING) AS customer,
                   CAST(value % 97 AS INT) AS qty, CAST(value % 1000 AS DOUBLE) / 10 AS amount
            FROM range({n})""", timeout=3600)
        # Even values: existing ids spread over the table (104729 is prime to 10^k); odd: new ids.
        loader.ok(f"""CREATE TABLE bench_merge.source AS
            SELECT CASE WHEN value % 2 = 0 THEN (value * 104729) % {n} ELSE {n} + value END AS id,
                   'new' AS customer, CAST(1000 + value % 7 AS INT) AS qty, CAST(value AS DOUBLE) AS amount
            FROM range({m})""")
        files = numbers(plain(loader.ok("SELECT count(*) FROM bench_merge.target.files")))
        print(f"loaded {n:,} target rows in {files[0] if files else '?'} data files and {m:,} source rows "
              f"in {time.perf_counter() - t0:.1f} s")
    finally:
        loader.close()

    results: dict[str, list[tuple[float, int, int]]] = {"kernel": [], "spark": []}
    answers: dict[str, list[list[str]]] = {"kernel": [], "spark": []}
    for run in range(args.runs):
        branches = {e: f"{base}_{e}_{run}" for e in ("kernel", "spark")}
        admin = Session(args.kernel, kernel_env(work, base), work)
        try:
            for b in branches.values():
                admin.ok(f"CREATE BRANCH {b} FROM {base}")
        finally:
            admin.close()
        order = ["kernel", "spark"] if run % 2 == 0 else ["spark", "kernel"]
        for engine in order:
            if engine == "kernel":
                k = Session(args.kernel, kernel_env(work, branches["kernel"]), work)
                try:
                    before = status(k.pid, "VmRSS")
                    t0 = time.perf_counter()
                    k.ok(MERGE, timeout=3600)
                    took = time.perf_counter() - t0
                    peak = status(k.pid, "VmHWM")
                finally:
                    k.close()
            else:
                env = {**os.environ, "NESSIE_REF": branches["spark"]}
                with SparkSQL.from_env(env, extra_conf={"spark.app.name": "lakehouse-merge-bench"}) as s:
                    jvm = jvm_of(s.pid)
                    before = status(jvm, "VmRSS")
                    t0 = time.perf_counter()
                    s.sql(MERGE.replace("bench_merge.", "nessie.bench_merge."), timeout=3600)
                    took = time.perf_counter() - t0
                    peak = status(jvm, "VmHWM")
            results[engine].append((took, before, peak))
            print(f"run {run + 1} {engine:<6} {took:7.2f} s  RSS before {mib(before)}  peak {mib(peak)}", flush=True)
        checker = Session(args.kernel, kernel_env(work, base), work)
        try:
            for engine, b in branches.items():
                sql = CHECK.replace("bench_merge.target", f"bench_merge.`target@{b}`")
                answers[engine].append(numbers(plain(checker.ok(sql))))
        finally:
            checker.close()
        print(f"run {run + 1} answers: kernel {answers['kernel'][-1]}  spark {answers['spark'][-1]}")
        if answers["kernel"][-1] != answers["spark"][-1]:
            print("DIFFERENT ANSWERS")
            return 1

    print(f"\n=== MERGE of {m:,} source rows into {n:,} rows (Nessie + S3, {args.runs} runs each, interleaved) ===")
    for engine in ("kernel", "spark"):
        t = [r[0] for r in results[engine]]
        print(f"{engine:<6} median {statistics.median(t):7.2f} s  (runs {', '.join(f'{x:.2f}' for x in t)})  "
              f"peak RSS max {mib(max(r[2] for r in results[engine]))}  RSS before median {mib(int(statistics.median(r[1] for r in results[engine])))}")
    kt = statistics.median(r[0] for r in results["kernel"])
    st = statistics.median(r[0] for r in results["spark"])
    kp = max(r[2] for r in results["kernel"])
    sp = max(r[2] for r in results["spark"])
    print(f"kernel / spark: time {kt / st:.2f}x, peak RSS {kp / sp:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
