#!/usr/bin/env python3
"""Interrupt benchmark (issue 20 §1): time from interrupt_request to the execute_reply.

Run by hand (not part of tests/run), with the venv that tests/run creates:

    .cache/venv/bin/python tests/bench/interrupt_bench.py [--trials 9] [--cpu-limits none,1]
        [--catalogs embedded,nessie] [--kernel PATH] [--no-rust]

For the Nessie catalog, start the test services first and keep their settings in the
environment:  eval "$(python3 -m tests.services start)".

Each trial starts a CPU-heavy statement (hash join, sort, grouped aggregate with millions of
groups, window function, cross join, a join of an Iceberg table with itself, a Rust cell
loop), waits a random 0.5-1.5 s after its execute_input, sends interrupt_request on the
control channel and measures until the execute_reply. After every trial one cell checks that
the session kept what it had: a parameter, a view, the active reference (Nessie); a trial
that loses any of it, or whose reply is not an Interrupted error, counts as lost. The kernel's
RSS is read before the statement and after the next cell (1 s after the reply). Prints, per configuration and
overall, the median, p90, p99 and max times, lost sessions and the RSS change. Measured, not
asserted: the goal in the issue is median <= 0.2 s and p99 <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("LAKEHOUSE_KERNEL_BIN", Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/lakehouse/target")) / "release/lakehouse-kernel"))

QUERIES = {
    "hash join": "SELECT count(*) FROM range(1000000000) a JOIN range(10000000) b ON a.value = b.value",
    "sort": "SELECT (value * 7919) % 1000003 AS k FROM range(40000000) ORDER BY k LIMIT 1 OFFSET 20000000",
    "group by": "SELECT count(*) FROM (SELECT value % 8000000 AS k, sum(value) AS s FROM range(200000000) GROUP BY value % 8000000)",
    "window": "SELECT max(r) FROM (SELECT row_number() OVER (PARTITION BY value % 1000 ORDER BY value DESC) AS r FROM range(40000000))",
    "cross join": "SELECT sum(a.value * b.value) FROM range(300000) a CROSS JOIN range(300000) b",
    "iceberg join": "SELECT count(*), sum(a.id + b.id) FROM bench_int.ev a JOIN bench_int.ev b ON a.k = b.k",
}
RUST_LOOP = "%%rust\nlet mut x: u64 = 0;\nfor i in 0..u64::MAX { x = x.wrapping_add(i.wrapping_mul(i)); std::hint::black_box(x); }\nx"


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Session:
    """One kernel started from a kernelspec we write, so any binary can be measured."""

    def __init__(self, binary: Path, env: dict[str, str], work: Path) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        spec_dir = work / "kernels" / "lakehouse-bench"
        spec_dir.mkdir(parents=True, exist_ok=True)
        (spec_dir / "kernel.json").write_text(json.dumps({
            "argv": [str(binary), "run", "--connection-file", "{connection_file}"],
            "display_name": "bench", "language": "sql", "interrupt_mode": "message",
        }))
        ksm = KernelSpecManager(kernel_dirs=[str(work / "kernels")])
        self.km = KernelManager(kernel_name="lakehouse-bench", kernel_spec_manager=ksm)
        self.km.start_kernel(env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        self.pid = self.km.provisioner.process.pid

    def run(self, code: str, timeout: float = 600) -> tuple[dict, list[dict]]:
        msg_id = self.kc.execute(code)
        return self.reply(msg_id, timeout), self.iopub_until_idle(msg_id, timeout)

    def reply(self, msg_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            m = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if m["parent_header"].get("msg_id") == msg_id:
                return m

    def iopub_until_idle(self, msg_id: str, timeout: float) -> list[dict]:
        out = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                m = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError(msg_id) from None
                continue
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                return out
            out.append(m)

    def wait_started(self, msg_id: str) -> None:
        while True:
            m = self.kc.get_iopub_msg(timeout=60)
            if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "execute_input":
                return

    def ok(self, code: str, timeout: float = 600) -> list[dict]:
        reply, out = self.run(code, timeout)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{code!r} failed: {reply['content'].get('ename')}: {reply['content'].get('evalue')}")
        return out

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def plain(out: list[dict]) -> str:
    return "\n".join(m["content"]["data"].get("text/plain", "") for m in out if m["msg_type"] in ("execute_result", "display_data"))


def percentile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def summary(name: str, times: list[float], lost: int, rss_delta: list[int]) -> str:
    if not times:
        return f"{name:<34} no trials"
    mib = [d / 2**20 for d in rss_delta]
    return (f"{name:<34} n={len(times):<3} median {statistics.median(times):6.3f} s  p90 {percentile(times, 90):6.3f} s  "
            f"p99 {percentile(times, 99):6.3f} s  max {max(times):6.3f} s  lost {lost}  "
            f"RSS after-before median {statistics.median(mib):+.0f} MiB max {max(mib):+.0f} MiB")


def config(args, catalog: str, cpu: str | None, work: Path, results: dict) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "CPU_LIMIT", "MEM_LIMIT"))}
    if catalog == "embedded":
        for k in ("NESSIE_URI", "NESSIE_REF"):
            env.pop(k, None)
    elif not os.environ.get("NESSIE_URI"):
        print("skipping nessie: NESSIE_URI is not set (eval \"$(python3 -m tests.services start)\")")
        return
    else:
        env["LAKEHOUSE_WAREHOUSE"] = os.environ.get("LAKEHOUSE_WAREHOUSE", "")
    home = work / f"home-{catalog}-{cpu}"
    env.update(LAKEHOUSE_HOME=str(home), LAKEHOUSE_CONFIG=str(work / "empty.toml"), LAKEHOUSE_STARTUP_FILE="none")
    if cpu:
        env["CPU_LIMIT"] = cpu
    s = Session(args.kernel, env, work)
    label = f"{catalog}, CPU_LIMIT={cpu or 'unset'}"
    try:
        schema = "bench_int"
        s.ok(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        s.ok(f"DROP TABLE IF EXISTS {schema}.ev")
        s.ok(f"CREATE TABLE {schema}.ev AS SELECT value AS id, value % 1000 AS k FROM range(3000000)")
        s.ok("SET p = 41")
        s.ok("CREATE OR REPLACE VIEW keep_view AS SELECT 1 AS one")
        if catalog == "nessie":
            branch = f"bench_{os.getpid()}_{cpu or 'x'}"
            s.ok(f"CREATE BRANCH IF NOT EXISTS {branch} FROM main")
            s.ok(f"USE REFERENCE {branch}")
        if not args.no_rust:
            s.ok("%%rust\n1 + 1", timeout=900)  # the first Rust cell starts evcxr
        kinds = list(QUERIES) + ([] if args.no_rust else ["rust loop"])
        rng = random.Random(7)
        for trial in range(args.trials):
            for kind in kinds:
                code = RUST_LOOP if kind == "rust loop" else QUERIES[kind]
                before = rss(s.pid)
                msg_id = s.kc.execute(code)
                s.wait_started(msg_id)
                time.sleep(rng.uniform(0.5, 1.5))
                t0 = time.perf_counter()
                s.km.interrupt_kernel()
                reply = s.reply(msg_id, timeout=600)
                took = time.perf_counter() - t0
                s.iopub_until_idle(msg_id, 60)
                good = reply["content"]["status"] == "error" and reply["content"].get("ename") in ("Interrupted", "KeyboardInterrupt")
                if not good:
                    print(f"  {label} {kind}: reply {reply['content'].get('status')} {reply['content'].get('ename')}")
                time.sleep(1)
                # The next cell waits for an interrupted plan's queued work to drain and give
                # its memory back; RSS is read once it has run.
                check = plain(s.ok("SELECT $p + 1 AS a, (SELECT one FROM keep_view) AS b"))
                after = rss(s.pid)
                kept = "42" in check and "1" in check
                if catalog == "nessie":
                    reference = s.ok("SHOW REFERENCE")
                    kept = kept and branch in plain(reference) + str([m["content"] for m in reference])
                lost = int(not (good and kept))
                if not kept:
                    print(f"  {label} {kind}: the session lost something: {check!r}")
                results.setdefault(label, {}).setdefault(kind, []).append((took, lost, after - before))
                print(f"  {label:<30} {kind:<12} trial {trial + 1}: {took:.3f} s{'  LOST' if lost else ''}", flush=True)
    finally:
        s.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=9, help="trials of each statement per configuration")
    ap.add_argument("--cpu-limits", default="none,1", help="CPU_LIMIT values, 'none' for unset")
    ap.add_argument("--catalogs", default="embedded,nessie")
    ap.add_argument("--kernel", type=Path, default=BIN, help="the kernel binary to measure")
    ap.add_argument("--no-rust", action="store_true", help="leave out the Rust cell loop")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"kernel {args.kernel}; load average {load:.2f} on {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="lakehouse-interrupt-bench-"))
    (work / "empty.toml").write_text("")
    results: dict = {}
    for catalog in args.catalogs.split(","):
        for cpu in args.cpu_limits.split(","):
            config(args, catalog, None if cpu == "none" else cpu, work, results)
    print("\n=== interrupt -> execute_reply ===")
    everything = []
    for label, kinds in results.items():
        for kind, rows in kinds.items():
            print(summary(f"{label} · {kind}", [r[0] for r in rows], sum(r[1] for r in rows), [r[2] for r in rows]))
            everything += rows
        rows = [r for rs in kinds.values() for r in rs]
        print(summary(f"{label} · all", [r[0] for r in rows], sum(r[1] for r in rows), [r[2] for r in rows]))
    print(summary("ALL", [r[0] for r in everything], sum(r[1] for r in everything), [r[2] for r in everything]))
    print("goal (issue 20): median <= 0.2 s, p99 <= 1 s, 0 lost sessions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
