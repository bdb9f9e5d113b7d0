#!/usr/bin/env python3
"""Notebook benchmark (issue 4): the collaborative-data-science notebook end to end, on the
kernel under nbconvert vs. the seed's PySpark steps in Spark local mode, in one run.

Run by hand (not part of tests/run), with the venv that tests/run creates:

    .cache/venv/bin/python tests/bench/notebook_bench.py [--num-events 5000] [--num-customers 1000] [--runs 3]

Kernel side: `jupyter nbconvert --execute` of examples/collaborative-data-science.ipynb with
its parameters set through papermill's injection (a copy of the notebook with the values in
the parameters cell), on a fresh embedded catalog per run: kernel start, every cell, shutdown.

Spark side: a fresh Python process per run doing the seed's steps as the seed writes them
(SparkSession with the Iceberg runtime, here a Hadoop catalog on a local warehouse instead of
Nessie; CREATE DATABASE/TABLE PARTITIONED BY days(); events generated in Python and written
with overwritePartitions(); the two EDA queries; the feature query with createOrReplace();
summary(); the segment counts; the validation counts; DROP TABLE). `local[2]`, as the suite's
Spark. Timed from process start (JVM and session start included, as the kernel's start is)
and, separately, from the session being ready.

Prints each run, the medians and the ratio Spark / kernel (the issue's goal: at least 20x).
Measured, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "examples" / "collaborative-data-science.ipynb"
sys.path.insert(0, str(REPO / "tests"))

SPARK_STEPS = r'''
import json, os, random, sys, time
from datetime import datetime, timedelta
t0 = time.perf_counter()
from pyspark.sql import SparkSession
from pyspark.sql.functions import desc
from pyspark.sql.types import StructType, StructField, StringType, TimestampType, DoubleType

cfg = json.loads(sys.argv[1])
num_customers, num_events = cfg["num_customers"], cfg["num_events"]
b = SparkSession.builder.appName("Pattern-5.2-bench")
for k, v in cfg["conf"].items():
    b = b.config(k, v)
spark = b.getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
t_ready = time.perf_counter()

full_database = "lakehouse.demo"
spark.sql(f"CREATE DATABASE IF NOT EXISTS {full_database}")
full_events_table = f"{full_database}.customer_events"
full_features_table = f"{full_database}.customer_features"
spark.sql(f"""
    CREATE TABLE IF NOT EXISTS {full_events_table} (
        customer_id STRING, event_type STRING, event_timestamp TIMESTAMP, product_id STRING, amount DOUBLE
    ) USING iceberg PARTITIONED BY (days(event_timestamp))
""")

event_types = ["page_view", "add_to_cart", "purchase", "review", "search"]
products = [f"prod_{i:03d}" for i in range(1, 51)]
events_data = []
for i in range(num_events):
    customer_id = f"customer_{random.randint(1, num_customers):05d}"
    event_type = random.choice(event_types)
    event_timestamp = datetime.now() - timedelta(days=random.randint(0, 90), hours=random.randint(0, 23),
                                                 minutes=random.randint(0, 59))
    product_id = random.choice(products)
    amount = round(random.uniform(10.0, 500.0), 2) if event_type == "purchase" else 0.0
    events_data.append((customer_id, event_type, event_timestamp, product_id, amount))
events_schema = StructType([
    StructField("customer_id", StringType(), False), StructField("event_type", StringType(), False),
    StructField("event_timestamp", TimestampType(), False), StructField("product_id", StringType(), False),
    StructField("amount", DoubleType(), False)])
df_events = spark.createDataFrame(events_data, schema=events_schema)
df_events.writeTo(full_events_table).using("iceberg").overwritePartitions()
df_events.show(10, truncate=False)

spark.sql(f"""
    SELECT event_type, COUNT(*) as event_count, COUNT(DISTINCT customer_id) as unique_customers
    FROM {full_events_table} GROUP BY event_type ORDER BY event_count DESC
""").show()
spark.sql(f"""
    SELECT customer_id, COUNT(*) as total_events,
        SUM(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) as purchases,
        SUM(CASE WHEN event_type = 'purchase' THEN amount ELSE 0 END) as total_spent,
        MIN(event_timestamp) as first_event, MAX(event_timestamp) as last_event
    FROM {full_events_table} GROUP BY customer_id ORDER BY total_spent DESC LIMIT 20
""").show(truncate=False)

df_features = spark.sql(f"""
    WITH customer_stats AS (
        SELECT customer_id, COUNT(*) as total_events,
            COUNT(DISTINCT DATE(event_timestamp)) as active_days,
            SUM(CASE WHEN event_type = 'page_view' THEN 1 ELSE 0 END) as page_views,
            SUM(CASE WHEN event_type = 'add_to_cart' THEN 1 ELSE 0 END) as cart_adds,
            SUM(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) as purchases,
            SUM(CASE WHEN event_type = 'review' THEN 1 ELSE 0 END) as reviews,
            SUM(CASE WHEN event_type = 'search' THEN 1 ELSE 0 END) as searches,
            SUM(CASE WHEN event_type = 'purchase' THEN amount ELSE 0 END) as total_spent,
            AVG(CASE WHEN event_type = 'purchase' THEN amount ELSE NULL END) as avg_purchase_value,
            DATEDIFF(CURRENT_DATE, MAX(DATE(event_timestamp))) as days_since_last_activity,
            DATEDIFF(MAX(DATE(event_timestamp)), MIN(DATE(event_timestamp))) as customer_lifetime_days
        FROM {full_events_table} GROUP BY customer_id
    )
    SELECT customer_id, total_events, active_days, page_views, cart_adds, purchases, reviews, searches,
        ROUND(total_spent, 2) as total_spent, ROUND(COALESCE(avg_purchase_value, 0), 2) as avg_purchase_value,
        ROUND(CASE WHEN cart_adds > 0 THEN purchases / cart_adds ELSE 0 END, 3) as conversion_rate,
        ROUND(CASE WHEN customer_lifetime_days > 0 THEN total_events / customer_lifetime_days ELSE 0 END, 2) as events_per_day,
        days_since_last_activity, customer_lifetime_days,
        CASE WHEN total_spent >= 1000 THEN 'high_value' WHEN total_spent >= 500 THEN 'medium_value'
             WHEN total_spent > 0 THEN 'low_value' ELSE 'no_purchase' END as customer_segment
    FROM customer_stats
""")
df_features.writeTo(full_features_table).using("iceberg").createOrReplace()
df_features.show(20, truncate=False)

df_features.select("total_spent", "purchases", "conversion_rate", "events_per_day") \
    .summary("count", "mean", "stddev", "min", "25%", "50%", "75%", "max").show()
df_features.groupBy("customer_segment").count().orderBy(desc("count")).show()

events_count = spark.sql(f"SELECT COUNT(*) FROM {full_events_table}").collect()[0][0]
features_count = spark.sql(f"SELECT COUNT(*) FROM {full_features_table}").collect()[0][0]
assert events_count > 0, "Should have events data"
assert features_count > 0, "Should have features"
for feat in ["conversion_rate", "events_per_day", "customer_segment"]:
    assert feat in df_features.columns, f"Missing feature: {feat}"
spark.sql(f"DROP TABLE IF EXISTS {full_events_table}")
spark.sql(f"DROP TABLE IF EXISTS {full_features_table}")
t_end = time.perf_counter()
spark.stop()
print("BENCH " + json.dumps({"steps": t_end - t_ready, "ready": t_ready - t0,
                              "events": events_count, "features": features_count}))
'''


def append_only(source: str) -> str:
    """The notebook's writes as a kernel without PARTITIONED BY, INSERT OVERWRITE and CREATE
    OR REPLACE runs them (--append-only): no USING, unpartitioned, INSERT INTO, DROP + CREATE AS."""
    source = source.replace(") USING iceberg", ")").replace("PARTITIONED BY (days(event_timestamp))", "")
    source = source.replace("INSERT OVERWRITE", "INSERT INTO")
    if "CREATE OR REPLACE TABLE" in source:
        name = source.split("CREATE OR REPLACE TABLE", 1)[1].split()[0]
        source = source.replace("CREATE OR REPLACE TABLE", f"DROP TABLE IF EXISTS {name};\nCREATE TABLE", 1)
    return source


def with_parameters(dest: Path, params: dict[str, object], append_only_writes: bool = False) -> Path:
    """A copy of the notebook whose parameters cell sets `params` (papermill's translation)."""
    import nbformat
    import papermill.engines  # noqa: F401  (registers the lakehouse translator)
    from papermill.translators import translate_parameters

    nb = nbformat.read(NOTEBOOK, as_version=4)
    [cell] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    cell.source = cell.source + "\n" + translate_parameters("lakehouse", "sql", params, "Parameters")
    if append_only_writes:
        for c in nb.cells:
            if c.cell_type == "code":
                c.source = append_only(c.source)
    nbformat.write(nb, dest)
    return dest


def run_kernel(work: Path, params: dict[str, object], i: int, append_only_writes: bool) -> float:
    nb = with_parameters(work / f"cds-{i}.ipynb", params, append_only_writes)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    (work / "empty.toml").write_text("")
    env.update(LAKEHOUSE_HOME=str(work / f"home-{i}"), LAKEHOUSE_CONFIG=str(work / "empty.toml"),
               LAKEHOUSE_STARTUP_FILE="none")
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
           "--ExecutePreprocessor.timeout=600", "--output-dir", str(work), "--output", f"out-{i}.ipynb", str(nb)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"nbconvert failed:\n{proc.stderr[-3000:]}")
    return elapsed


def spark_conf(work: Path) -> dict[str, str]:
    from services._common import DOWNLOAD_DIR, download_verified
    from services.spark import ICEBERG_VERSION, MAVEN_REPO, SPARK_SCALA, find_spark_java, local_conf

    artifact = f"iceberg-spark-runtime-{SPARK_SCALA}"
    name = f"{artifact}-{ICEBERG_VERSION}.jar"
    jar = download_verified(f"{MAVEN_REPO}/org/apache/iceberg/{artifact}/{ICEBERG_VERSION}/{name}", DOWNLOAD_DIR / name)
    conf = local_conf(work, [jar])
    conf["spark.app.name"] = "Pattern-5.2-bench"
    conf.update({
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        "spark.sql.catalog.lakehouse": "org.apache.iceberg.spark.SparkCatalog",
        "spark.sql.catalog.lakehouse.type": "hadoop",
        "spark.sql.catalog.lakehouse.warehouse": str(work / "spark-iceberg"),
    })
    java = find_spark_java()
    os.environ["JAVA_HOME"] = str(Path(java).resolve().parent.parent)
    return conf


def run_spark(work: Path, conf: dict[str, str], num_customers: int, num_events: int, i: int) -> tuple[float, dict]:
    run_dir = work / f"spark-{i}"
    run_dir.mkdir()
    conf = dict(conf, **{"spark.local.dir": str(run_dir / "local"),
                         "spark.sql.catalog.lakehouse.warehouse": str(run_dir / "warehouse")})
    cfg = json.dumps({"num_customers": num_customers, "num_events": num_events, "conf": conf})
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", SPARK_STEPS, cfg], capture_output=True, text=True,
                          env=dict(os.environ, PYSPARK_PYTHON=sys.executable))
    elapsed = time.perf_counter() - t0
    lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"Spark run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed, json.loads(lines[-1][6:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--num-events", type=int, default=5000)
    ap.add_argument("--num-customers", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-spark", action="store_true")
    ap.add_argument("--append-only", action="store_true",
                    help="run the notebook's writes as INSERT INTO / DROP + CREATE AS on an unpartitioned table "
                         "(for a kernel built without the issue-4 write statements)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lakehouse-nb-bench-"))
    params = {"num_events": args.num_events, "num_customers": args.num_customers, "database_name": "bench",
              "enable_cleanup": True}
    print(f"notebook: {NOTEBOOK.name}, {args.num_events} events, {args.num_customers} customers, "
          f"{args.runs} runs each, work dir {work}"
          + (" (--append-only: unpartitioned, INSERT INTO, DROP + CREATE AS)" if args.append_only else ""))
    kernel = []
    for i in range(args.runs):
        kernel.append(run_kernel(work, params, i, args.append_only))
        print(f"kernel  run {i + 1}: {kernel[-1]:6.2f} s (nbconvert: kernel start, all cells, shutdown)")
    if args.skip_spark:
        print(f"\nkernel median {statistics.median(kernel):.2f} s")
        return 0
    conf = spark_conf(work)
    spark_total, spark_steps = [], []
    for i in range(args.runs):
        total, info = run_spark(work, conf, args.num_customers, args.num_events, i)
        spark_total.append(total)
        spark_steps.append(info["steps"])
        print(f"spark   run {i + 1}: {total:6.2f} s (process; session ready after {info['ready']:.2f} s, "
              f"steps {info['steps']:.2f} s; {info['events']} events, {info['features']} features)")
    k, s, st = statistics.median(kernel), statistics.median(spark_total), statistics.median(spark_steps)
    print("\n=== notebook benchmark ===")
    print(f"kernel (nbconvert, end to end)           median {k:6.2f} s")
    print(f"PySpark local[2] + Iceberg (end to end)  median {s:6.2f} s")
    print(f"PySpark steps only (session already up)  median {st:6.2f} s")
    print(f"ratio end to end  Spark / kernel = {s / k:5.1f}x   (goal >= 20x)")
    print(f"ratio steps only  Spark / kernel = {st / k:5.1f}x   (the kernel's figure includes its start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
