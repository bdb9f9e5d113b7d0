"""Session parameters (`SET name = value`, `$name`, `${name}`) and Iceberg snapshot time travel
on the embedded catalog, through a real jupyter_client."""

from __future__ import annotations

import html as htmllib
import re
import time
from datetime import datetime, timezone


def cells(run) -> list[str]:
    html = run.results[-1]["text/html"]
    return [htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, flags=re.S)]


def test_parameters_are_typed_values(kernel):
    run = kernel.ok("SET num_events = 100; SET name = 'O''Brien'; SET day = DATE '2025-01-16'; SET ok = true")
    assert "num_events = 100 (Int64)" in run.stdout, run.stdout
    assert "name = 'O''Brien'" in run.stdout, run.stdout
    run = kernel.ok("SELECT $num_events * 2 AS n, $name AS who, $day + INTERVAL '1 day' AS next, NOT $ok AS f")
    assert cells(run) == ["200", "O'Brien", "2025-01-17", "false"], cells(run)
    # Later SETs override earlier ones (papermill's injected cell runs after the defaults).
    kernel.ok("SET num_events = 7")
    assert cells(kernel.ok("SELECT $num_events AS n")) == ["7"]
    run = kernel.ok("SHOW PARAMETERS")
    assert cells(run)[:3] == ["day", "Date32", "2025-01-16"], cells(run)


def test_a_quote_in_a_parameter_cannot_change_the_statement(kernel):
    kernel.ok("CREATE SCHEMA IF NOT EXISTS p; CREATE TABLE p.people (name STRING)")
    kernel.ok("INSERT INTO p.people VALUES ('alice'), ('bob')")
    kernel.ok("SET who = 'x'' OR ''1''=''1'")
    run = kernel.ok("SELECT count(*) AS n FROM p.people WHERE name = $who")
    assert cells(run) == ["0"], cells(run)
    kernel.ok("INSERT INTO p.people VALUES ($who)")
    run = kernel.ok("SELECT name FROM p.people WHERE name LIKE 'x%'")
    assert cells(run) == ["x' OR '1'='1"], cells(run)


def test_parameters_as_names_lists_and_errors(kernel):
    kernel.ok("SET db = 'params_demo'; SET tables = ['a', 'b']; SET n = 3")
    run = kernel.ok("CREATE SCHEMA ${db}; CREATE TABLE ${db}.t AS SELECT value FROM range(${n}); SELECT count(*) FROM ${db}.t")
    assert cells(run) == ["3"], cells(run)
    assert cells(kernel.ok("SELECT array_length($tables) AS k"))[0] == "2"
    # An identifier parameter must be a plain name.
    kernel.ok("SET bad = 'x; DROP SCHEMA params_demo'")
    run = kernel.execute("SELECT * FROM ${bad}.t")
    assert run.status == "error" and "plain name" in run.error["evalue"], run.error
    run = kernel.execute("SELECT $missing")
    assert run.status == "error" and "parameter $missing is not set" in run.error["evalue"], run.error
    assert "SET missing" in run.error["evalue"]
    run = kernel.execute("SET 1x = 2")
    assert run.status == "error" and "parameter name" in run.error["evalue"]
    # DataFusion's own settings still work.
    kernel.ok("SET datafusion.execution.batch_size = 4096")
    kernel.assert_alive()


def test_snapshot_time_travel(kernel):
    kernel.ok("CREATE SCHEMA IF NOT EXISTS tt; CREATE TABLE tt.t (x BIGINT); INSERT INTO tt.t VALUES (1)")
    time.sleep(0.3)
    between = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    time.sleep(0.3)
    kernel.ok("INSERT INTO tt.t VALUES (2), (3)")
    run = kernel.ok("SELECT snapshot_id FROM tt.`t$snapshots` ORDER BY committed_at")
    first, second = cells(run)
    assert cells(kernel.ok(f"SELECT count(*) FROM tt.t VERSION AS OF {first}")) == ["1"]
    assert cells(kernel.ok(f"SELECT count(*) FROM tt.t VERSION AS OF {second}")) == ["3"]
    assert cells(kernel.ok(f"SELECT count(*) FROM tt.t TIMESTAMP AS OF '{between}'")) == ["1"]
    assert cells(kernel.ok(f"SELECT count(*) FROM tt.t FOR SYSTEM_TIME AS OF '{between}'")) == ["1"]
    # Old and new side by side, with aliases.
    run = kernel.ok(f"SELECT (SELECT count(*) FROM tt.t VERSION AS OF {first} a) AS old, (SELECT count(*) FROM tt.t b) AS now")
    assert cells(run) == ["1", "3"], cells(run)
    # Snapshot ids come from parameters too.
    kernel.ok(f"SET snap = {first}")
    # Errors name what exists.
    run = kernel.execute("SELECT * FROM tt.t VERSION AS OF 12345")
    assert run.status == "error", run.describe()
    assert "no snapshot 12345" in run.error["evalue"] and first in run.error["evalue"], run.error
    run = kernel.execute("SELECT * FROM tt.t TIMESTAMP AS OF '2001-01-01'")
    assert run.status == "error" and "had no snapshot" in run.error["evalue"], run.error
    run = kernel.execute("SELECT * FROM tt.t VERSION AS OF 'abc'")
    assert run.status == "error" and "snapshot id" in run.error["evalue"], run.error
    # Old snapshots are read-only.
    run = kernel.execute(f"INSERT INTO tt.t VERSION AS OF {first} VALUES (9)")
    assert run.status == "error", run.describe()
    assert cells(kernel.ok("SELECT count(*) FROM tt.t")) == ["3"]
    # Branch names need Nessie.
    run = kernel.execute("SELECT * FROM tt.`t@dev`")
    assert run.status == "error" and "NESSIE_URI" in run.error["evalue"], run.error
    kernel.assert_alive()


def test_assert_passes_or_fails_the_cell(kernel):
    kernel.ok("CREATE SCHEMA IF NOT EXISTS au; CREATE TABLE au.t (id BIGINT, amount DOUBLE)")
    kernel.ok("INSERT INTO au.t VALUES (1, 2.0), (2, 3.5)")
    kernel.ok("SET expected = 2")
    run = kernel.ok("ASSERT (SELECT count(*) FROM au.t) = $expected, 'row count'")
    assert "Passed: row count" in run.stdout
    run = kernel.execute("ASSERT (SELECT count(*) FROM au.t WHERE amount < 3) = 0, 'no small amounts'; SELECT 1")
    assert run.status == "error" and run.error["ename"] == "AssertionError", run.describe()
    assert "no small amounts" in run.error["evalue"] and "false" in run.error["evalue"]
    assert not run.results  # the cell stopped at the failed check
    run = kernel.execute("ASSERT NULL AS 'unknown is not true'")
    assert run.status == "error" and "NULL" in run.error["evalue"]
    run = kernel.execute("ASSERT 42")
    assert run.status == "error" and "true/false" in run.error["evalue"]
    kernel.assert_alive()
