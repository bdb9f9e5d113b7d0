"""Charts (%%sql --chart), live progress of long queries, display settings from a cell, COPY TO,
and magics, through a real jupyter_client."""

from __future__ import annotations

import html as htmllib
import re
import time
from pathlib import Path

VEGALITE = "application/vnd.vegalite.v5+json"
LONG_QUERY = "SELECT sum(value % 7) FROM range(1000000000000)"


def cells(data: dict) -> list[str]:
    return [htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", data["text/html"], flags=re.S)]


def test_bar_chart_is_vega_lite_with_a_table_fallback(kernel):
    kernel.ok("CREATE SCHEMA IF NOT EXISTS ch; CREATE TABLE ch.ev (event_type STRING, amount DOUBLE)")
    kernel.ok("INSERT INTO ch.ev VALUES ('view', 1), ('view', 2), ('buy', 10), ('cart', 3)")
    run = kernel.ok("%%sql --chart bar --x event_type --y n --title 'Events by type'\n"
                    "SELECT event_type, count(*) AS n FROM ch.ev GROUP BY event_type ORDER BY n DESC, event_type")
    [result] = run.of_type("execute_result")
    data = result["content"]["data"]
    spec = data[VEGALITE]
    assert spec["$schema"].endswith("vega-lite/v5.json")
    assert spec["mark"]["type"] == "bar" and spec["title"] == "Events by type"
    assert spec["encoding"]["x"]["field"] == "event_type" and spec["encoding"]["y"]["field"] == "n"
    assert spec["data"]["values"] == [{"event_type": "view", "n": 2}, {"event_type": "buy", "n": 1},
                                      {"event_type": "cart", "n": 1}]
    # The text table is the fallback for nbconvert and other front ends; no HTML, which
    # JupyterLab would prefer over the chart.
    assert "text/html" not in data and "| view" in data["text/plain"]


def test_line_scatter_histogram_charts_use_all_rows(kernel):
    run = kernel.ok("%%sql --chart line --x d --y v\n"
                    "SELECT DATE '2025-01-01' + CAST(value AS INT) AS d, value * value AS v FROM range(200)")
    spec = run.of_type("execute_result")[0]["content"]["data"][VEGALITE]
    assert spec["mark"]["type"] == "line" and spec["encoding"]["x"]["type"] == "temporal"
    # The chart gets every row although the table shows only the first 50.
    assert len(spec["data"]["values"]) == 200
    assert spec["data"]["values"][3] == {"d": "2025-01-04", "v": 9}
    spec = kernel.ok("%%sql --chart scatter --x a --y b --color g\nSELECT value AS a, value % 3 AS b, CAST(value % 2 AS VARCHAR) AS g FROM range(10)") \
        .of_type("execute_result")[0]["content"]["data"][VEGALITE]
    assert spec["mark"]["type"] == "point" and spec["encoding"]["color"]["field"] == "g"
    spec = kernel.ok("%%sql --chart histogram --x x\nSELECT random() AS x FROM range(500)") \
        .of_type("execute_result")[0]["content"]["data"][VEGALITE]
    assert spec["encoding"]["x"]["bin"] and spec["encoding"]["y"]["aggregate"] == "count"


def test_chart_errors_name_what_exists(kernel):
    run = kernel.execute("%%sql --chart bar --x kind --y total\nSELECT 'a' AS kind, 1 AS n")
    assert run.status == "error" and run.error["ename"] == "ChartError", run.describe()
    assert "no column 'total'" in run.error["evalue"] and "kind, n" in run.error["evalue"]
    # The table is still shown.
    assert run.results and "<table" in run.results[-1]["text/html"]
    run = kernel.execute("%%sql --chart pie\nSELECT 1")
    assert run.status == "error" and "bar, line, scatter, area, histogram" in run.error["evalue"]
    run = kernel.execute("%%python\nprint(1)")
    assert run.status == "error" and "%%sql" in run.error["evalue"], run.error
    run = kernel.execute("%%sql --chart bar\nCREATE SCHEMA IF NOT EXISTS nothing_to_chart")
    assert run.status == "error" and "nothing to chart" in run.error["evalue"]
    kernel.assert_alive()


def test_display_settings_change_from_a_cell(kernel):
    kernel.ok("SET lakehouse.max_rows = 5")
    run = kernel.ok("SELECT value FROM range(100)")
    assert len(cells(run.results[-1])) == 5
    assert "showing 5 of 100 rows" in run.results[-1]["text/plain"]
    kernel.ok("SET lakehouse.max_col_width = 10")
    run = kernel.ok("SELECT repeat('x', 50) AS s")
    assert cells(run.results[-1])[0] == "x" * 9 + "…", cells(run.results[-1])
    run = kernel.execute("SET lakehouse.max_colour = 3")
    assert run.status == "error" and "lakehouse.max_rows" in run.error["evalue"]
    run = kernel.execute("SET lakehouse.max_rows = lots")
    assert run.status == "error" and "whole number" in run.error["evalue"]


def test_copy_to_parquet_and_csv(kernel, tmp_path: Path):
    target = tmp_path / "out.parquet"
    run = kernel.ok(f"COPY (SELECT value AS v FROM range(1234)) TO '{target}'")
    assert f"Wrote 1234 rows to {target}" in run.stdout, run.stdout
    data = target.read_bytes()
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    kernel.ok(f"CREATE EXTERNAL TABLE copied STORED AS PARQUET LOCATION '{target}'")
    assert cells(kernel.ok("SELECT count(*), sum(v) FROM copied").results[-1]) == ["1234", str(sum(range(1234)))]
    csv = tmp_path / "out.csv"
    kernel.ok(f"COPY (SELECT 1 AS a, 'x' AS b) TO '{csv}'")
    assert csv.read_text().splitlines() == ["a,b", "1,x"]


def test_long_query_shows_live_progress_then_interrupt(kernel):
    msg_id = kernel.kc.execute(LONG_QUERY)
    seen: list[dict] = []
    deadline = time.monotonic() + 20
    while not any(m["msg_type"] == "update_display_data" for m in seen):
        assert time.monotonic() < deadline, [m["msg_type"] for m in seen]
        m = kernel.kc.get_iopub_msg(timeout=20)
        if m["parent_header"].get("msg_id") == msg_id:
            seen.append(m)
    kernel.km.interrupt_kernel()
    reply = kernel.shell_reply(msg_id, timeout=15)
    assert reply["content"]["ename"] == "Interrupted"
    iopub = seen + kernel.iopub_until_idle(msg_id)
    [first] = [m for m in iopub if m["msg_type"] == "display_data"]
    display_id = first["content"]["transient"]["display_id"]
    assert first["content"]["data"]["text/plain"].startswith("Running"), first["content"]
    assert "rows read" in first["content"]["data"]["text/plain"]
    updates = [m for m in iopub if m["msg_type"] == "update_display_data"]
    assert all(u["content"]["transient"]["display_id"] == display_id for u in updates)
    assert updates[-1]["content"]["data"]["text/plain"].startswith("Interrupted after"), updates[-1]["content"]


def test_fast_queries_show_no_progress(kernel):
    run = kernel.ok("SELECT count(*) FROM range(1000)")
    assert not run.of_type("display_data") and not run.of_type("update_display_data")


def test_finished_long_query_finalizes_its_status_line(kernel):
    run = kernel.ok("SELECT count(DISTINCT value % 1000003) AS d FROM range(60000000)", timeout=120)
    assert cells(run.results[-1]) == ["1000003"]
    updates = run.of_type("update_display_data")
    if not run.of_type("display_data"):
        return  # a fast machine finished within half a second: nothing to finalize
    assert updates and updates[-1]["content"]["data"]["text/plain"].startswith("Finished in"), updates
