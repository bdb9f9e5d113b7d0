"""Spark and the kernel read and write each other's Iceberg tables through one Nessie.

Spark runs as the team's notebooks configure it (Iceberg's SparkCatalog over
org.apache.iceberg.nessie.NessieCatalog with S3FileIO, see tests/services/spark.py), in local
mode in a worker process, against this session's real Nessie + S3 (SeaweedFS) servers.
Issue 3: table properties, snapshot id, schema/spec/sort-order ids are kept in the Nessie
content as Java does, so each side reads (and appends to) the other's tables.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import Kernel

pytest_plugins = ["services.conftest_fixtures"]

from services import ServiceError  # noqa: E402
from services._common import http_json, listening_addresses  # noqa: E402
from services.spark import SparkError, SparkSQL, find_spark_java  # noqa: E402


def _say(request: pytest.FixtureRequest, text: str) -> None:
    """A line on the terminal, past pytest's output capture."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(text)


@pytest.fixture(scope="module")
def spark(request: pytest.FixtureRequest, lakehouse_env: dict[str, str]):
    try:
        java = find_spark_java()
    except ServiceError as exc:
        pytest.skip(f"Spark needs Java 17+, none found: {exc}")
    started = time.monotonic()
    with SparkSQL.from_env(lakehouse_env) as s:
        _say(request, f"\n[spark] Spark {s.spark_version} + Iceberg (java {java}) first start: "
                      f"{time.monotonic() - started:.1f}s; log {s.log_path}")
        yield s


@pytest.fixture()
def kernel(tmp_path: Path, lakehouse_env: dict[str, str]):
    # As tests/test_nessie.py's nessie_kernel.
    env = {k: v for k, v in lakehouse_env.items() if not k.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))}
    k = Kernel(tmp_path / "home", LAKEHOUSE_MAX_COL_WIDTH="200", **env)
    yield k
    k.close()


def ns() -> str:
    return "spark_" + uuid.uuid4().hex[:10]


def content(lakehouse_env: dict[str, str], key: str, ref: str = "main") -> dict[str, Any]:
    """Nessie's content object for `key` (`ns.table`) on `ref`."""
    return http_json(f"{lakehouse_env['NESSIE_URI']}/trees/{ref}/contents/{key}")["content"]


def table_rows(run) -> tuple[list[str], list[list[str | None]]]:
    """(header, rows) of the kernel's last text/plain table; NULL cells become None."""
    text = [r["text/plain"] for r in run.results if "text/plain" in r][-1]
    lines = [ln for ln in text.split("\n") if ln.startswith("|")]
    cells = [[c.strip() for c in ln[1:-1].split(" | ")] for ln in lines]
    header, rows = cells[0], cells[1:]
    return header, [[None if c == "NULL" else c for c in row] for row in rows]


def kernel_select(k: Kernel, sql: str) -> list[list[str | None]]:
    return table_rows(k.ok(sql))[1]


# Values as both engines should agree on them: kernel cells are text, Spark's are JSON values.
def norm(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "bigint":
        return int(value)
    if kind == "double":
        return float(value)
    if kind == "string":
        return str(value)
    if kind == "date":
        return dt.date.fromisoformat(str(value))
    if kind == "timestamp":  # with or without zone: compared as UTC wall time
        t = dt.datetime.fromisoformat(str(value).replace(" ", "T").replace("Z", "+00:00"))
        return t.astimezone(dt.timezone.utc).replace(tzinfo=None) if t.tzinfo else t
    raise AssertionError(kind)


KINDS = ["bigint", "string", "double", "date", "timestamp"]


def normalized(rows, kinds=KINDS) -> list[tuple]:
    return [tuple(norm(v, kind) for v, kind in zip(row, kinds)) for row in rows]


def spark_rows(spark: SparkSQL, table: str, order: str = "id") -> list[tuple]:
    return normalized(spark.sql(f"SELECT id, name, amount, day, ts FROM {table} ORDER BY {order}").rows)


def kernel_rows(k: Kernel, table: str, order: str = "id") -> list[tuple]:
    return normalized(kernel_select(k, f"SELECT id, name, amount, day, ts FROM {table} ORDER BY {order}"))


def report(lakehouse_env: dict[str, str], key: str, exc: BaseException, ref: str = "main") -> str:
    """The error plus Nessie's content JSON, for a failure that points at stored metadata."""
    try:
        c = json.dumps(content(lakehouse_env, key, ref), indent=1)
    except ServiceError as e:
        c = f"(cannot read content: {e})"
    trace = getattr(exc, "trace", "")
    return f"{exc}\n--- Nessie content of {key}@{ref} ---\n{c}\n--- trace ---\n{trace[:6000]}"


# ------------------------------------------------------------------------------ tests

SPARK_ROWS = [
    (1, "alpha", 1.5, dt.date(2025, 1, 16), dt.datetime(2025, 1, 16, 10, 0, 0)),
    (2, "bêta ünïcode", -2.25, dt.date(1999, 12, 31), dt.datetime(2025, 1, 17, 23, 59, 59, 123456)),
    (3, None, None, None, None),
    (4, "", 1e300, dt.date(2024, 2, 29), dt.datetime(1970, 1, 1, 0, 0, 0)),
]


def spark_values(rows, ntz: bool = False) -> str:
    ts = "TIMESTAMP_NTZ" if ntz else "TIMESTAMP"

    def lit(v):
        if v is None:
            return "NULL"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        if isinstance(v, dt.datetime):
            return f"{ts} '{v.isoformat(sep=' ')}'"
        if isinstance(v, dt.date):
            return f"DATE '{v.isoformat()}'"
        if isinstance(v, float):
            return f"CAST({v!r} AS DOUBLE)"
        return str(v)

    return ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)


def kernel_values(rows) -> str:
    def lit(v):
        if v is None:
            return "NULL"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        if isinstance(v, dt.datetime):
            return f"TIMESTAMP '{v.isoformat(sep=' ')}'"
        if isinstance(v, dt.date):
            return f"DATE '{v.isoformat()}'"
        if isinstance(v, float):
            return f"CAST({v!r} AS DOUBLE)"
        return str(v)

    return ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)


def test_spark_listens_on_loopback_only(spark: SparkSQL) -> None:
    addrs = listening_addresses(spark.pid)
    assert addrs, "the Spark worker's process group listens nowhere?"
    assert {a for a, _ in addrs} == {"127.0.0.1"}, addrs


def test_kernel_reads_spark_tables(spark: SparkSQL, kernel: Kernel) -> None:
    s = ns()
    spark.sql(f"CREATE NAMESPACE nessie.{s}")
    cols = "id bigint, name string, amount double, day date, ts timestamp"
    spark.sql(f"CREATE TABLE nessie.{s}.events ({cols}) USING iceberg")
    spark.sql(f"CREATE TABLE nessie.{s}.events_by_day ({cols}) USING iceberg PARTITIONED BY (days(ts))")
    for t in ("events", "events_by_day"):
        spark.sql(f"INSERT INTO nessie.{s}.{t} VALUES {spark_values(SPARK_ROWS)}")
    expected = spark_rows(spark, f"nessie.{s}.events")
    assert expected == normalized(SPARK_ROWS), expected

    for t in ("events", "events_by_day"):
        got = kernel_rows(kernel, f"{s}.{t}")
        assert got == expected, f"{s}.{t}: kernel {got} != spark {expected}"
    # The partitioned table: one partition per day with a timestamp, plus the NULL partition.
    parts = spark.sql(f"SELECT count(*) FROM nessie.{s}.events_by_day.partitions").rows[0][0]
    assert parts == 4, parts
    # A filter on the partition column prunes nothing wrongly.
    rows = kernel_select(kernel, f"SELECT id FROM {s}.events_by_day WHERE ts >= TIMESTAMP '2025-01-17 00:00:00' ORDER BY id")
    assert rows == [["2"]], rows
    agg = kernel_select(kernel, f"SELECT count(*), count(name), sum(id) FROM {s}.events")
    assert agg == [["4", "3", "10"]], agg

    header, desc = table_rows(kernel.ok(f"DESCRIBE {s}.events"))
    assert header[:2] == ["column_name", "data_type"], header
    names = [r[0] for r in desc]
    assert names == ["id", "name", "amount", "day", "ts"], desc
    types = [r[1] for r in desc]
    assert types[:4] == ["Int64", "Utf8", "Float64", "Date32"], desc
    # Spark's `timestamp` is Iceberg's timestamptz: a timestamp with a UTC zone in Arrow.
    assert types[4].startswith("Timestamp(") and ("UTC" in types[4] or "+00:00" in types[4]), desc


def test_both_append_to_a_kernel_table(spark: SparkSQL, kernel: Kernel, lakehouse_env) -> None:
    s = ns()
    kernel.ok(f"CREATE SCHEMA {s}; "
              f"CREATE TABLE {s}.t (id BIGINT, name STRING, amount DOUBLE, day DATE, ts TIMESTAMP); "
              f"INSERT INTO {s}.t VALUES {kernel_values(SPARK_ROWS[:2])}")
    first = kernel_rows(kernel, f"{s}.t")
    assert first == normalized(SPARK_ROWS[:2]), first
    try:
        got = spark_rows(spark, f"nessie.{s}.t")
    except SparkError as exc:
        pytest.fail(report(lakehouse_env, f"{s}.t", exc))
    assert got == first, f"spark {got} != kernel {first}"
    # The kernel's TIMESTAMP (no zone) is Iceberg's `timestamp`: Spark's timestamp_ntz.
    assert spark.sql(f"SELECT ts FROM nessie.{s}.t LIMIT 1").types == ["timestamp_ntz"]

    # Spark commits on top of the kernel's commits ...
    try:
        spark.sql(f"INSERT INTO nessie.{s}.t VALUES {spark_values(SPARK_ROWS[2:], ntz=True)}")
    except SparkError as exc:
        pytest.fail(report(lakehouse_env, f"{s}.t", exc))
    assert kernel_rows(kernel, f"{s}.t") == normalized(SPARK_ROWS)
    # ... and the kernel on top of Spark's.
    extra = [(5, "kernel again", 0.5, dt.date(2025, 3, 1), dt.datetime(2025, 3, 1, 12, 30))]
    kernel.ok(f"INSERT INTO {s}.t VALUES {kernel_values(extra)}")
    assert spark_rows(spark, f"nessie.{s}.t") == normalized(SPARK_ROWS + extra)
    assert kernel_rows(kernel, f"{s}.t") == normalized(SPARK_ROWS + extra)


def test_both_append_to_a_spark_table(spark: SparkSQL, kernel: Kernel, lakehouse_env) -> None:
    s = ns()
    spark.sql(f"CREATE NAMESPACE nessie.{s}")
    spark.sql(f"CREATE TABLE nessie.{s}.t (id bigint, name string, amount double, day date, ts timestamp) "
              f"USING iceberg PARTITIONED BY (days(ts))")
    spark.sql(f"INSERT INTO nessie.{s}.t VALUES {spark_values(SPARK_ROWS[:2])}")
    extra = [(7, "from the kernel", 7.0, dt.date(2025, 1, 18), dt.datetime(2025, 1, 18, 8, 0))]
    run = kernel.execute(f"INSERT INTO {s}.t VALUES {kernel_values(extra)}")
    assert run.status == "ok", f"{run.describe()}\n{json.dumps(content(lakehouse_env, f'{s}.t'), indent=1)}"
    want = normalized(SPARK_ROWS[:2] + extra)
    try:
        got = spark_rows(spark, f"nessie.{s}.t")
    except SparkError as exc:
        pytest.fail(report(lakehouse_env, f"{s}.t", exc))
    assert got == want, got
    assert kernel_rows(kernel, f"{s}.t") == want


def test_kernel_branch_seen_by_spark(spark: SparkSQL, kernel: Kernel, lakehouse_env) -> None:
    s, dev = ns(), "dev_" + uuid.uuid4().hex[:8]
    kernel.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (id BIGINT, name STRING); "
              f"INSERT INTO {s}.t VALUES (1, 'on main')")
    kernel.ok(f"CREATE BRANCH {dev} FROM main")
    kernel.ok(f"INSERT INTO {s}.`t@{dev}` VALUES (2, 'on {dev}'), (3, 'on {dev} too')")
    try:
        on_dev = spark.sql(f"SELECT id, name FROM nessie.{s}.`t@{dev}` ORDER BY id").rows
    except SparkError as exc:
        pytest.fail(report(lakehouse_env, f"{s}.t", exc, ref=dev))
    assert on_dev == [[1, "on main"], [2, f"on {dev}"], [3, f"on {dev} too"]], on_dev
    on_main = spark.sql(f"SELECT id, name FROM nessie.{s}.t ORDER BY id").rows
    assert on_main == [[1, "on main"]], on_main
    # The kernel agrees on both refs.
    assert kernel_select(kernel, f"SELECT count(*) FROM {s}.`t@{dev}`") == [["3"]]
    assert kernel_select(kernel, f"SELECT count(*) FROM {s}.t") == [["1"]]
    # Spark writes to the branch too (Iceberg's `t@ref` names a branch to commit on).
    spark.sql(f"INSERT INTO nessie.{s}.`t@{dev}` VALUES (4, 'spark on {dev}')")
    assert kernel_select(kernel, f"SELECT count(*) FROM {s}.`t@{dev}`") == [["4"]]
    assert kernel_select(kernel, f"SELECT count(*) FROM {s}.t") == [["1"]]


def kernel_snapshots(k: Kernel, table: str) -> list[tuple[int, int | None, str]]:
    rows = kernel_select(k, f"SELECT snapshot_id, parent_id, operation FROM {table} ORDER BY committed_at")
    return [(int(sid), None if parent is None else int(parent), op) for sid, parent, op in rows]


def spark_snapshots(spark: SparkSQL, table: str) -> list[tuple[int, int | None, str]]:
    rows = spark.sql(f"SELECT snapshot_id, parent_id, operation FROM {table} ORDER BY committed_at").rows
    return [tuple(r) for r in rows]


def test_spark_lists_the_kernels_snapshots(spark: SparkSQL, kernel: Kernel, lakehouse_env) -> None:
    s = ns()
    kernel.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (id BIGINT)")
    for i in range(3):
        kernel.ok(f"INSERT INTO {s}.t VALUES ({i})")
    ours = kernel_snapshots(kernel, f"{s}.`t$snapshots`")
    assert len(ours) == 3, ours
    try:
        theirs = spark_snapshots(spark, f"nessie.{s}.t.snapshots")
    except SparkError as exc:
        pytest.fail(report(lakehouse_env, f"{s}.t", exc))
    assert theirs == ours, f"spark {theirs} != kernel {ours}"
    assert [op for _, _, op in theirs] == ["append"] * 3, theirs
    # A chain: each snapshot's parent is the one before.
    assert [p for _, p, _ in theirs] == [None] + [sid for sid, _, _ in theirs[:-1]], theirs
    # Nessie's content names the current snapshot, as Java's NessieCatalog writes it.
    c = content(lakehouse_env, f"{s}.t")
    assert c["snapshotId"] == theirs[-1][0], c
    # A Spark commit adds one more, and both list the same four.
    spark.sql(f"INSERT INTO nessie.{s}.t VALUES (9)")
    ours = kernel_snapshots(kernel, f"{s}.`t$snapshots`")
    assert len(ours) == 4 and ours == spark_snapshots(spark, f"nessie.{s}.t.snapshots"), ours
    assert spark.sql(f"SELECT count(*) FROM nessie.{s}.t.snapshots").rows == [[4]]


def test_count_star_of_snapshots_matches_spark(spark: SparkSQL, kernel: Kernel) -> None:
    s = ns()
    kernel.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (id BIGINT); INSERT INTO {s}.t VALUES (1); "
              f"INSERT INTO {s}.t VALUES (2)")
    n_spark = spark.sql(f"SELECT count(*) FROM nessie.{s}.t.snapshots").rows[0][0]
    assert n_spark == 2
    assert kernel_select(kernel, f"SELECT count(*) FROM {s}.`t$snapshots`") == [[str(n_spark)]]


def test_nessie_content_as_java_writes_it(spark: SparkSQL, kernel: Kernel, lakehouse_env, s3_server) -> None:
    """The kernel's Nessie content has the fields Java's NessieCatalog writes, with the ids of
    the metadata file it points at; table properties survive commits from the other side."""
    s = ns()
    spark.sql(f"CREATE NAMESPACE nessie.{s}")
    spark.sql(f"CREATE TABLE nessie.{s}.by_spark (id bigint, ts timestamp) USING iceberg PARTITIONED BY (days(ts))")
    spark.sql(f"INSERT INTO nessie.{s}.by_spark VALUES (1, TIMESTAMP '2025-01-16 10:00:00')")
    kernel.ok(f"CREATE TABLE {s}.by_kernel (id BIGINT, ts TIMESTAMP); "
              f"INSERT INTO {s}.by_kernel VALUES (1, TIMESTAMP '2025-01-16 10:00:00')")
    java, ours = content(lakehouse_env, f"{s}.by_spark"), content(lakehouse_env, f"{s}.by_kernel")
    assert set(ours) == set(java), f"kernel content {ours}\nJava content {java}"
    for c in (java, ours):
        loc = c["metadataLocation"]
        bucket, key = loc.removeprefix("s3://").split("/", 1)
        meta = json.loads(s3_server.client().get_object(bucket, key))
        assert c["type"] == "ICEBERG_TABLE"
        assert c["snapshotId"] == meta["current-snapshot-id"], (c, meta["current-snapshot-id"])
        assert c["schemaId"] == meta["current-schema-id"], c
        assert c["specId"] == meta["default-spec-id"], c
        assert c["sortOrderId"] == meta["default-sort-order-id"], c

    # Properties set by Spark on the kernel's table are kept by the kernel's next commit.
    spark.sql(f"ALTER TABLE nessie.{s}.by_kernel SET TBLPROPERTIES ('team.owner' = 'data-science')")
    kernel.ok(f"INSERT INTO {s}.by_kernel VALUES (2, TIMESTAMP '2025-01-17 10:00:00')")
    props = dict(spark.sql(f"SHOW TBLPROPERTIES nessie.{s}.by_kernel").rows)
    assert props.get("team.owner") == "data-science", props
    assert spark.sql(f"SELECT count(*) FROM nessie.{s}.by_kernel").rows == [[2]]


def metadata_of(lakehouse_env, s3_server, key: str, ref: str = "main") -> tuple[dict, dict]:
    """(Nessie content, the table metadata JSON it points at) of `key` on `ref`."""
    c = content(lakehouse_env, key, ref)
    bucket, path = c["metadataLocation"].removeprefix("s3://").split("/", 1)
    return c, json.loads(s3_server.client().get_object(bucket, path))


def assert_content_matches_metadata(c: dict, meta: dict) -> None:
    assert c["snapshotId"] == meta.get("current-snapshot-id", -1), (c, meta.get("current-snapshot-id"))
    assert c["schemaId"] == meta["current-schema-id"], (c, meta["current-schema-id"])
    assert c["specId"] == meta["default-spec-id"], (c, meta["default-spec-id"])
    assert c["sortOrderId"] == meta["default-sort-order-id"], (c, meta["default-sort-order-id"])


def test_ids_in_content_follow_evolution_from_spark(spark: SparkSQL, kernel: Kernel, lakehouse_env, s3_server) -> None:
    """Spark evolves the kernel's table (new column, partition field, sort order); the kernel's
    next commit keeps the current schema/spec/sort-order ids, in the metadata and in the content."""
    s = ns()
    kernel.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (id BIGINT, ts TIMESTAMP); "
              f"INSERT INTO {s}.t VALUES (1, TIMESTAMP '2025-01-16 10:00:00')")
    # The kernel's namespace and table are listed by Spark.
    assert [s] in spark.sql("SHOW NAMESPACES IN nessie").rows
    assert "t" in [r[1] for r in spark.sql(f"SHOW TABLES IN nessie.{s}").rows]

    spark.sql(f"ALTER TABLE nessie.{s}.t ADD COLUMN note string")
    spark.sql(f"ALTER TABLE nessie.{s}.t ADD PARTITION FIELD days(ts)")
    spark.sql(f"ALTER TABLE nessie.{s}.t WRITE ORDERED BY id")
    spark.sql(f"INSERT INTO nessie.{s}.t VALUES (2, TIMESTAMP_NTZ '2025-01-17 10:00:00', 'spark')")
    c, meta = metadata_of(lakehouse_env, s3_server, f"{s}.t")
    assert_content_matches_metadata(c, meta)
    assert (c["schemaId"], c["specId"], c["sortOrderId"]) == (1, 1, 1), c

    rows = kernel_select(kernel, f"SELECT id, note FROM {s}.t ORDER BY id")
    assert rows == [["1", None], ["2", "spark"]], rows
    run = kernel.execute(f"INSERT INTO {s}.t VALUES (3, TIMESTAMP '2025-01-18 10:00:00', 'kernel')")
    assert run.status == "ok", f"{run.describe()}\n{json.dumps(content(lakehouse_env, f'{s}.t'), indent=1)}"
    c, meta = metadata_of(lakehouse_env, s3_server, f"{s}.t")
    assert_content_matches_metadata(c, meta)
    assert (c["schemaId"], c["specId"], c["sortOrderId"]) == (1, 1, 1), c
    try:
        got = spark.sql(f"SELECT id, note FROM nessie.{s}.t ORDER BY id").rows
    except SparkError as exc:
        pytest.fail(report(lakehouse_env, f"{s}.t", exc))
    assert got == [[1, None], [2, "spark"], [3, "kernel"]], got
    # The kernel's file went into the new spec (a day partition), as Spark's did.
    parts = spark.sql(f"SELECT partition.ts_day, record_count, spec_id FROM nessie.{s}.t.partitions ORDER BY 1").rows
    assert [p[2] for p in parts if p[0] is not None] == [1, 1], parts


JAVA_GC_DEFAULTS = {"gc.enabled": "false", "write.metadata.delete-after-commit.enabled": "false"}


def test_kernel_tables_get_javas_gc_defaults(spark: SparkSQL, kernel: Kernel, lakehouse_env, s3_server) -> None:
    s = ns()
    spark.sql(f"CREATE NAMESPACE nessie.{s}")
    spark.sql(f"CREATE TABLE nessie.{s}.by_spark (id bigint) USING iceberg")
    kernel.ok(f"CREATE TABLE {s}.by_kernel (id BIGINT)")
    _, java = metadata_of(lakehouse_env, s3_server, f"{s}.by_spark")
    _, ours = metadata_of(lakehouse_env, s3_server, f"{s}.by_kernel")
    assert {k: java["properties"].get(k) for k in JAVA_GC_DEFAULTS} == JAVA_GC_DEFAULTS, java["properties"]
    props = ours.get("properties", {})
    assert {k: props.get(k) for k in JAVA_GC_DEFAULTS} == JAVA_GC_DEFAULTS, props
    # What the defaults are for: Iceberg refuses to expire snapshots of either table.
    spark.sql(f"INSERT INTO nessie.{s}.by_spark VALUES (1)")
    spark.sql(f"INSERT INTO nessie.{s}.by_spark VALUES (2)")
    kernel.ok(f"INSERT INTO {s}.by_kernel VALUES (1); INSERT INTO {s}.by_kernel VALUES (2)")
    for t in ("by_spark", "by_kernel"):
        with pytest.raises(SparkError, match="Cannot expire snapshots: GC is disabled"):
            spark.sql(f"CALL nessie.system.expire_snapshots(table => '{s}.{t}', "
                      f"older_than => TIMESTAMP '2100-01-01 00:00:00', retain_last => 1)")


def test_spark_reads_the_kernels_lineage_keys(spark: SparkSQL, kernel: Kernel) -> None:
    """The lineage keys of a kernel commit (README, "Lineage") are in the snapshot summary
    Spark reads, with the values the kernel reads."""
    s = ns()
    kernel.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (id BIGINT)")
    kernel.ok(f"INSERT INTO {s}.t VALUES (1)")
    keys = ["engine-name", "engine-version", "lakehouse.user", "lakehouse.statement", "lakehouse.cell.execution-count"]
    theirs = spark.sql(
        "SELECT " + ", ".join(f"summary['{k}']" for k in keys) + f" FROM nessie.{s}.t.snapshots"
    ).rows
    ours = kernel_select(kernel, "SELECT " + ", ".join(f"summary['{k}']" for k in keys) + f" FROM {s}.t.snapshots")
    assert [[str(v) for v in row] for row in theirs] == ours, f"spark {theirs} != kernel {ours}"
    assert ours[0][0] == "lakehouse-kernel" and ours[0][3] == f"INSERT INTO {s}.t VALUES (1)", ours
    assert ours[0][2], ours
