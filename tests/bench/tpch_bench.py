#!/usr/bin/env python3
"""TPC-H benchmark (issue 19): the kernel on Iceberg tables against the same rows as Parquet.

Run by hand (not part of tests/run), with the venv that tests/run creates (duckdb, datafusion
and tpchgen-cli are pinned in tests/requirements.txt):

    .cache/venv/bin/python tests/bench/tpch_bench.py [--sf 1] [--runs 3] [--cpu-limit 2]
        [--work DIR] [--queries 1,3,18]

1. `tpchgen-cli` writes the eight tables as Parquet (kept in --work, default
   ~/.cache/lakehouse/bench/tpch-sf<SF>, and reused); a kernel loads them into Iceberg tables
   `tpch.*` of an embedded catalog in the same folder (`CREATE TABLE … AS SELECT` from external
   tables), once.
2. Four engines, each a long-lived process, run the 22 queries (the TPC-H specification's text
   with its validation parameters), interleaved: for each run, for each query, each engine in
   turn, so a busy moment of the machine falls on all alike:
     iceberg  the kernel on the Iceberg tables (LAKEHOUSE_DEFAULT_SCHEMA=tpch)
     ice-rs   the same with iceberg-rust's reader (--iceberg-rs only)
     parquet  the kernel on the same Parquet files as external tables
     duckdb   DuckDB on views over read_parquet() of the files
     dfpy     datafusion-python on the files (register_parquet)
   Kernel times are execute_request to idle (the whole result is computed; the kernel shows
   its first rows); the others materialize the whole result. CPU: CPU_LIMIT for the kernel,
   the same number of threads / target partitions for the peers.
3. Prints each query's best time per engine, the sums, the ratios iceberg/parquet and
   iceberg/DuckDB (goals: <= 1.05 and <= 1.3), and each process's peak RSS (VmHWM, read from
   /proc outside the process); then a selective query's bytes read (rchar from /proc/PID/io)
   for the kernel on Iceberg, on Parquet and for DuckDB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from feature_bench import Kernel, rows_of, status_bytes, total_rows  # noqa: E402

TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")

# The 22 queries of the TPC-H specification (2.18), with the validation substitution parameters.
# Q15's view is a CTE; Q11's FRACTION is 0.0001 / SF.
QUERIES: dict[int, str] = {
    1: """select l_returnflag, l_linestatus, sum(l_quantity) as sum_qty, sum(l_extendedprice) as sum_base_price,
  sum(l_extendedprice * (1 - l_discount)) as sum_disc_price,
  sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge, avg(l_quantity) as avg_qty,
  avg(l_extendedprice) as avg_price, avg(l_discount) as avg_disc, count(*) as count_order
from lineitem where l_shipdate <= date '1998-12-01' - interval '90 days'
group by l_returnflag, l_linestatus order by l_returnflag, l_linestatus""",
    2: """select s_acctbal, s_name, n_name, p_partkey, p_mfgr, s_address, s_phone, s_comment
from part, supplier, partsupp, nation, region
where p_partkey = ps_partkey and s_suppkey = ps_suppkey and p_size = 15 and p_type like '%BRASS'
  and s_nationkey = n_nationkey and n_regionkey = r_regionkey and r_name = 'EUROPE'
  and ps_supplycost = (select min(ps_supplycost) from partsupp, supplier, nation, region
    where p_partkey = ps_partkey and s_suppkey = ps_suppkey and s_nationkey = n_nationkey
      and n_regionkey = r_regionkey and r_name = 'EUROPE')
order by s_acctbal desc, n_name, s_name, p_partkey limit 100""",
    3: """select l_orderkey, sum(l_extendedprice * (1 - l_discount)) as revenue, o_orderdate, o_shippriority
from customer, orders, lineitem
where c_mktsegment = 'BUILDING' and c_custkey = o_custkey and l_orderkey = o_orderkey
  and o_orderdate < date '1995-03-15' and l_shipdate > date '1995-03-15'
group by l_orderkey, o_orderdate, o_shippriority order by revenue desc, o_orderdate limit 10""",
    4: """select o_orderpriority, count(*) as order_count from orders
where o_orderdate >= date '1993-07-01' and o_orderdate < date '1993-07-01' + interval '3 months'
  and exists (select * from lineitem where l_orderkey = o_orderkey and l_commitdate < l_receiptdate)
group by o_orderpriority order by o_orderpriority""",
    5: """select n_name, sum(l_extendedprice * (1 - l_discount)) as revenue
from customer, orders, lineitem, supplier, nation, region
where c_custkey = o_custkey and l_orderkey = o_orderkey and l_suppkey = s_suppkey
  and c_nationkey = s_nationkey and s_nationkey = n_nationkey and n_regionkey = r_regionkey
  and r_name = 'ASIA' and o_orderdate >= date '1994-01-01' and o_orderdate < date '1994-01-01' + interval '1 year'
group by n_name order by revenue desc""",
    6: """select sum(l_extendedprice * l_discount) as revenue from lineitem
where l_shipdate >= date '1994-01-01' and l_shipdate < date '1994-01-01' + interval '1 year'
  and l_discount between 0.06 - 0.01 and 0.06 + 0.01 and l_quantity < 24""",
    7: """select supp_nation, cust_nation, l_year, sum(volume) as revenue from (
  select n1.n_name as supp_nation, n2.n_name as cust_nation, extract(year from l_shipdate) as l_year,
    l_extendedprice * (1 - l_discount) as volume
  from supplier, lineitem, orders, customer, nation n1, nation n2
  where s_suppkey = l_suppkey and o_orderkey = l_orderkey and c_custkey = o_custkey
    and s_nationkey = n1.n_nationkey and c_nationkey = n2.n_nationkey
    and ((n1.n_name = 'FRANCE' and n2.n_name = 'GERMANY') or (n1.n_name = 'GERMANY' and n2.n_name = 'FRANCE'))
    and l_shipdate between date '1995-01-01' and date '1996-12-31') as shipping
group by supp_nation, cust_nation, l_year order by supp_nation, cust_nation, l_year""",
    8: """select o_year, sum(case when nation = 'BRAZIL' then volume else 0 end) / sum(volume) as mkt_share from (
  select extract(year from o_orderdate) as o_year, l_extendedprice * (1 - l_discount) as volume, n2.n_name as nation
  from part, supplier, lineitem, orders, customer, nation n1, nation n2, region
  where p_partkey = l_partkey and s_suppkey = l_suppkey and l_orderkey = o_orderkey and o_custkey = c_custkey
    and c_nationkey = n1.n_nationkey and n1.n_regionkey = r_regionkey and r_name = 'AMERICA'
    and s_nationkey = n2.n_nationkey and o_orderdate between date '1995-01-01' and date '1996-12-31'
    and p_type = 'ECONOMY ANODIZED STEEL') as all_nations
group by o_year order by o_year""",
    9: """select nation, o_year, sum(amount) as sum_profit from (
  select n_name as nation, extract(year from o_orderdate) as o_year,
    l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity as amount
  from part, supplier, lineitem, partsupp, orders, nation
  where s_suppkey = l_suppkey and ps_suppkey = l_suppkey and ps_partkey = l_partkey and p_partkey = l_partkey
    and o_orderkey = l_orderkey and s_nationkey = n_nationkey and p_name like '%green%') as profit
group by nation, o_year order by nation, o_year desc""",
    10: """select c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) as revenue, c_acctbal, n_name,
  c_address, c_phone, c_comment
from customer, orders, lineitem, nation
where c_custkey = o_custkey and l_orderkey = o_orderkey and o_orderdate >= date '1993-10-01'
  and o_orderdate < date '1993-10-01' + interval '3 months' and l_returnflag = 'R' and c_nationkey = n_nationkey
group by c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment order by revenue desc limit 20""",
    11: """select ps_partkey, sum(ps_supplycost * ps_availqty) as value from partsupp, supplier, nation
where ps_suppkey = s_suppkey and s_nationkey = n_nationkey and n_name = 'GERMANY'
group by ps_partkey having sum(ps_supplycost * ps_availqty) > (
  select sum(ps_supplycost * ps_availqty) * {fraction} from partsupp, supplier, nation
  where ps_suppkey = s_suppkey and s_nationkey = n_nationkey and n_name = 'GERMANY')
order by value desc""",
    12: """select l_shipmode,
  sum(case when o_orderpriority = '1-URGENT' or o_orderpriority = '2-HIGH' then 1 else 0 end) as high_line_count,
  sum(case when o_orderpriority <> '1-URGENT' and o_orderpriority <> '2-HIGH' then 1 else 0 end) as low_line_count
from orders, lineitem
where o_orderkey = l_orderkey and l_shipmode in ('MAIL', 'SHIP') and l_commitdate < l_receiptdate
  and l_shipdate < l_commitdate and l_receiptdate >= date '1994-01-01'
  and l_receiptdate < date '1994-01-01' + interval '1 year'
group by l_shipmode order by l_shipmode""",
    13: """select c_count, count(*) as custdist from (
  select c_custkey, count(o_orderkey) as c_count
  from customer left outer join orders on c_custkey = o_custkey and o_comment not like '%special%requests%'
  group by c_custkey) as c_orders
group by c_count order by custdist desc, c_count desc""",
    14: """select 100.00 * sum(case when p_type like 'PROMO%' then l_extendedprice * (1 - l_discount) else 0 end)
  / sum(l_extendedprice * (1 - l_discount)) as promo_revenue
from lineitem, part
where l_partkey = p_partkey and l_shipdate >= date '1995-09-01' and l_shipdate < date '1995-09-01' + interval '1 month'""",
    15: """with revenue0 as (
  select l_suppkey as supplier_no, sum(l_extendedprice * (1 - l_discount)) as total_revenue from lineitem
  where l_shipdate >= date '1996-01-01' and l_shipdate < date '1996-01-01' + interval '3 months'
  group by l_suppkey)
select s_suppkey, s_name, s_address, s_phone, total_revenue from supplier, revenue0
where s_suppkey = supplier_no and total_revenue = (select max(total_revenue) from revenue0)
order by s_suppkey""",
    16: """select p_brand, p_type, p_size, count(distinct ps_suppkey) as supplier_cnt from partsupp, part
where p_partkey = ps_partkey and p_brand <> 'Brand#45' and p_type not like 'MEDIUM POLISHED%'
  and p_size in (49, 14, 23, 45, 19, 3, 36, 9)
  and ps_suppkey not in (select s_suppkey from supplier where s_comment like '%Customer%Complaints%')
group by p_brand, p_type, p_size order by supplier_cnt desc, p_brand, p_type, p_size""",
    17: """select sum(l_extendedprice) / 7.0 as avg_yearly from lineitem, part
where p_partkey = l_partkey and p_brand = 'Brand#23' and p_container = 'MED BOX'
  and l_quantity < (select 0.2 * avg(l_quantity) from lineitem where l_partkey = p_partkey)""",
    18: """select c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, sum(l_quantity)
from customer, orders, lineitem
where o_orderkey in (select l_orderkey from lineitem group by l_orderkey having sum(l_quantity) > 300)
  and c_custkey = o_custkey and o_orderkey = l_orderkey
group by c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice order by o_totalprice desc, o_orderdate limit 100""",
    19: """select sum(l_extendedprice * (1 - l_discount)) as revenue from lineitem, part
where (p_partkey = l_partkey and p_brand = 'Brand#12' and p_container in ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG')
    and l_quantity >= 1 and l_quantity <= 1 + 10 and p_size between 1 and 5
    and l_shipmode in ('AIR', 'AIR REG') and l_shipinstruct = 'DELIVER IN PERSON')
  or (p_partkey = l_partkey and p_brand = 'Brand#23' and p_container in ('MED BAG', 'MED BOX', 'MED PKG', 'MED PACK')
    and l_quantity >= 10 and l_quantity <= 10 + 10 and p_size between 1 and 10
    and l_shipmode in ('AIR', 'AIR REG') and l_shipinstruct = 'DELIVER IN PERSON')
  or (p_partkey = l_partkey and p_brand = 'Brand#34' and p_container in ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG')
    and l_quantity >= 20 and l_quantity <= 20 + 10 and p_size between 1 and 15
    and l_shipmode in ('AIR', 'AIR REG') and l_shipinstruct = 'DELIVER IN PERSON')""",
    20: """select s_name, s_address from supplier, nation
where s_suppkey in (select ps_suppkey from partsupp
    where ps_partkey in (select p_partkey from part where p_name like 'forest%')
      and ps_availqty > (select 0.5 * sum(l_quantity) from lineitem
        where l_partkey = ps_partkey and l_suppkey = ps_suppkey and l_shipdate >= date '1994-01-01'
          and l_shipdate < date '1994-01-01' + interval '1 year'))
  and s_nationkey = n_nationkey and n_name = 'CANADA'
order by s_name""",
    21: """select s_name, count(*) as numwait from supplier, lineitem l1, orders, nation
where s_suppkey = l1.l_suppkey and o_orderkey = l1.l_orderkey and o_orderstatus = 'F'
  and l1.l_receiptdate > l1.l_commitdate
  and exists (select * from lineitem l2 where l2.l_orderkey = l1.l_orderkey and l2.l_suppkey <> l1.l_suppkey)
  and not exists (select * from lineitem l3 where l3.l_orderkey = l1.l_orderkey and l3.l_suppkey <> l1.l_suppkey
    and l3.l_receiptdate > l3.l_commitdate)
  and s_nationkey = n_nationkey and n_name = 'SAUDI ARABIA'
group by s_name order by numwait desc, s_name limit 100""",
    22: """select cntrycode, count(*) as numcust, sum(c_acctbal) as totacctbal from (
  select substring(c_phone from 1 for 2) as cntrycode, c_acctbal from customer
  where substring(c_phone from 1 for 2) in ('13', '31', '23', '29', '30', '18', '17')
    and c_acctbal > (select avg(c_acctbal) from customer where c_acctbal > 0.00
      and substring(c_phone from 1 for 2) in ('13', '31', '23', '29', '30', '18', '17'))
    and not exists (select * from orders where o_custkey = c_custkey)) as custsale
group by cntrycode order by cntrycode""",
}

SELECTIVE = "select o_orderkey, o_custkey, o_totalprice from orders where o_orderdate = date '1995-03-15' and o_orderkey = 1"

# A peer in its own process: reads one JSON request a line ({"sql": ...}), answers one JSON line.
PEER = r'''
import json, sys, time
kind, threads, data = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tables = json.loads(sys.argv[4])
if kind == "duckdb":
    import duckdb
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    for t in tables:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{data}/{t}.parquet')")
    def run(q):
        return len(con.execute(q).fetchall())
    version = duckdb.__version__
else:
    import datafusion
    cfg = datafusion.SessionConfig().with_target_partitions(threads)
    ctx = datafusion.SessionContext(cfg)
    for t in tables:
        ctx.register_parquet(t, f"{data}/{t}.parquet")
    def run(q):
        return sum(b.num_rows for b in ctx.sql(q).collect())
    version = datafusion.__version__
print(json.dumps({"ready": version}), flush=True)
for line in sys.stdin:
    q = json.loads(line)["sql"]
    t0 = time.perf_counter()
    try:
        rows, err = run(q), None
    except Exception as e:  # a failing query is reported, the peer goes on
        rows, err = None, f"{type(e).__name__}: {e}"[:300]
    print(json.dumps({"t": time.perf_counter() - t0, "rows": rows, "error": err}), flush=True)
'''


class Peer:
    """DuckDB or datafusion-python in a process of its own."""

    def __init__(self, kind: str, threads: int, data: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", PEER, kind, str(threads), str(data), json.dumps(TABLES)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.version = json.loads(self.proc.stdout.readline())["ready"]
        self.pid = self.proc.pid

    def run(self, sql: str) -> tuple[float, int | None, str | None]:
        self.proc.stdin.write(json.dumps({"sql": sql}) + "\n")
        self.proc.stdin.flush()
        r = json.loads(self.proc.stdout.readline())
        return r["t"], r["rows"], r["error"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


class KernelEngine:
    """The kernel, timed from execute_request to idle."""

    def __init__(self, env: dict[str, str], setup: list[str]) -> None:
        self.k = Kernel(env)
        self.pid = self.k.pid
        for stmt in setup:
            self.k.ok(stmt)

    def run(self, sql: str) -> tuple[float, int | None, str | None]:
        t0 = time.perf_counter()
        status, text = self.k.run(sql)
        t = time.perf_counter() - t0
        return t, total_rows(text) if status == "ok" else None, None if status == "ok" else text[-300:]

    def close(self) -> None:
        self.k.close()


def rchar(pid: int) -> int:
    with open(f"/proc/{pid}/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sf", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpu-limit", default="2")
    ap.add_argument("--work", type=Path, help="data and catalog folder (default ~/.cache/lakehouse/bench/tpch-sf<SF>)")
    ap.add_argument("--queries", help="comma-separated query numbers (default all 22)")
    ap.add_argument("--codec", help="write.parquet.compression-codec of the Iceberg tables (default: the "
                    "kernel's, zstd; tpchgen-cli's Parquet files are snappy). Tables already loaded keep theirs: "
                    "use another --work")
    ap.add_argument("--iceberg-rs", action="store_true",
                    help="also run the kernel on Iceberg with iceberg-rust's reader (LAKEHOUSE_ICEBERG_READER=iceberg)")
    args = ap.parse_args()
    work = args.work or Path.home() / ".cache" / "lakehouse" / "bench" / f"tpch-sf{args.sf:g}"
    data = work / "parquet"
    work.mkdir(parents=True, exist_ok=True)
    threads = max(1, int(float(args.cpu_limit) + 0.999))
    queries = {n: q.format(fraction=0.0001 / args.sf) for n, q in QUERIES.items()
               if not args.queries or str(n) in args.queries.split(",")}

    # 1. Data: Parquet from tpchgen-cli, then Iceberg tables loaded by the kernel.
    if not all((data / f"{t}.parquet").is_file() for t in TABLES):
        gen = Path(sys.executable).parent / "tpchgen-cli"
        t0 = time.perf_counter()
        subprocess.run([str(gen), "parquet", "-s", f"{args.sf:g}", f"--output-dir={data}"], check=True)
        print(f"tpchgen-cli wrote SF {args.sf:g} in {time.perf_counter() - t0:.1f} s")
    (work / "empty.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    env.update(LAKEHOUSE_HOME=str(work / "home"), LAKEHOUSE_CONFIG=str(work / "empty.toml"),
               LAKEHOUSE_STARTUP_FILE="none", CPU_LIMIT=args.cpu_limit)
    env.pop("MEM_LIMIT", None)
    external = [f"CREATE EXTERNAL TABLE {t} STORED AS PARQUET LOCATION '{data}/{t}.parquet'" for t in TABLES]
    loader = Kernel(env)
    try:
        loader.ok("CREATE SCHEMA IF NOT EXISTS tpch")
        loader.ok("SET lakehouse.max_rows = 1000")
        have = {r[0] for r in rows_of(loader.ok(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'tpch'"))}
        missing = [t for t in TABLES if t not in have]
        for t in missing:
            t0 = time.perf_counter()
            loader.ok(f"CREATE EXTERNAL TABLE ext_{t} STORED AS PARQUET LOCATION '{data}/{t}.parquet'")
            props = f" TBLPROPERTIES ('write.parquet.compression-codec' = '{args.codec}')" if args.codec else ""
            loader.ok(f"CREATE TABLE IF NOT EXISTS tpch.{t}{props} AS SELECT * FROM ext_{t}")
            print(f"loaded tpch.{t} into Iceberg in {time.perf_counter() - t0:.1f} s")
    finally:
        loader.close()
    parquet_bytes = sum((data / f"{t}.parquet").stat().st_size for t in TABLES)
    iceberg_bytes = sum(p.stat().st_size for p in (work / "home").rglob("*.parquet"))
    print(f"SF {args.sf:g}: Parquet files {parquet_bytes / 2**20:.0f} MiB; Iceberg data files {iceberg_bytes / 2**20:.0f} MiB")

    # 2. The engines, interleaved.
    engines = {
        "iceberg": KernelEngine({**env, "LAKEHOUSE_DEFAULT_SCHEMA": "tpch"}, []),
        **({"ice-rs": KernelEngine({**env, "LAKEHOUSE_DEFAULT_SCHEMA": "tpch",
                                     "LAKEHOUSE_ICEBERG_READER": "iceberg"}, [])}
           if args.iceberg_rs else {}),
        "parquet": KernelEngine(env, external),
        "duckdb": Peer("duckdb", threads, data),
        "dfpy": Peer("datafusion", threads, data),
    }
    times: dict[str, dict[int, list[float]]] = {e: {n: [] for n in queries} for e in engines}
    rows: dict[str, dict[int, int | None]] = {e: {} for e in engines}
    errors: dict[str, dict[int, str]] = {e: {} for e in engines}
    try:
        for run in range(args.runs):
            for n, q in queries.items():
                for name, eng in engines.items():
                    if n in errors[name]:
                        continue
                    t, r, err = eng.run(q)
                    if err:
                        errors[name][n] = err
                        continue
                    times[name][n].append(t)
                    rows[name][n] = r
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
        peaks = {name: status_bytes(eng.pid, "VmHWM") for name, eng in engines.items()}
        selective = {}
        for name in [e for e in ("iceberg", "ice-rs", "parquet", "duckdb") if e in engines]:
            before = rchar(engines[name].pid)
            engines[name].run(SELECTIVE)
            selective[name] = rchar(engines[name].pid) - before
    finally:
        for eng in engines.values():
            eng.close()

    # 3. The table.
    names = list(engines)
    print(f"\n=== TPC-H SF {args.sf:g}, best of {args.runs}, CPU_LIMIT={args.cpu_limit} "
          f"(DuckDB {engines['duckdb'].version}, datafusion-python {engines['dfpy'].version}) ===")
    print(f"{'q':>3} " + " ".join(f"{n:>9}" for n in names) + f" {'ice/pq':>7} {'ice/duck':>8}  rows")
    sums = {n: 0.0 for n in names}
    complete = [q for q in queries if all(times[e][q] for e in names)]
    for q in queries:
        best = {e: min(times[e][q]) if times[e][q] else None for e in names}
        cells = " ".join(f"{best[e]:9.3f}" if best[e] is not None else f"{'error':>9}" for e in names)
        ratio = (f"{best['iceberg'] / best['parquet']:7.2f} {best['iceberg'] / best['duckdb']:8.2f}"
                 if q in complete else f"{'':7} {'':8}")
        counts = {rows[e].get(q) for e in names if rows[e].get(q) is not None}
        print(f"{q:>3} {cells} {ratio}  {'/'.join(map(str, sorted(counts))) or '-'}")
        if q in complete:
            for e in names:
                sums[e] += best[e]
    print(f"sum " + " ".join(f"{sums[e]:9.3f}" for e in names)
          + f" {sums['iceberg'] / sums['parquet']:7.2f} {sums['iceberg'] / sums['duckdb']:8.2f}"
          + f"  (over the {len(complete)} queries every engine ran)")
    print("peak RSS " + ", ".join(f"{e} {peaks[e] / 2**20:.0f} MiB" for e in names)
          + f"; iceberg/parquet {peaks['iceberg'] / peaks['parquet']:.2f}")
    print("selective query bytes read (rchar): "
          + ", ".join(f"{e} {selective[e] / 2**20:.1f} MiB" for e in selective))
    for e in names:
        for q, err in errors[e].items():
            print(f"{e} q{q} failed: {err}")
    print("goals (issue 19): iceberg/parquet <= 1.05 (time), <= 1.2 (memory); iceberg/DuckDB <= 1.3")
    return 0


if __name__ == "__main__":
    sys.exit(main())
