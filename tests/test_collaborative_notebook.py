"""examples/collaborative-data-science.ipynb (the team's pattern 5.2 notebook in SQL), headless.

It runs under `jupyter nbconvert --execute` with its default parameters, under papermill with
small ones (the tables then hold exactly `num_events` events and one feature row per customer),
with a validation that fails (no events: papermill exits 1 with the AssertionError, the cleanup
never runs), with validation switched off, and once on Nessie with the S3 test server.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest

from conftest import REPO, Kernel, kernel_env

pytest_plugins = ["services.conftest_fixtures"]

NOTEBOOK = REPO / "examples" / "collaborative-data-science.ipynb"


def errors(nb: nbformat.NotebookNode) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


def cell(nb: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    [c] = [c for c in nb.cells if c.get("id") == cell_id]
    return c


def text_of(c: nbformat.NotebookNode) -> str:
    parts = []
    for o in c.get("outputs", []):
        if o.output_type == "stream":
            parts.append(o.text)
        elif "data" in o:
            parts.append(o.data.get("text/plain", ""))
    return "\n".join(parts)


def table_rows(c: nbformat.NotebookNode) -> list[list[str]]:
    """Data rows of the last result table of a cell (its aligned text form)."""
    results = [o for o in c.get("outputs", []) if o.output_type == "execute_result"]
    assert results, (c.get("id"), c.get("outputs"))
    lines = [line for line in results[-1].data["text/plain"].splitlines() if line.startswith("|")]
    return [[v.strip() for v in line.strip("|").split("|")] for line in lines[1:]]


def header(c: nbformat.NotebookNode) -> list[str]:
    results = [o for o in c.get("outputs", []) if o.output_type == "execute_result"]
    line = next(line for line in results[-1].data["text/plain"].splitlines() if line.startswith("|"))
    return [v.strip() for v in line.strip("|").split("|")]


def papermill(tmp: Path, *params: str, **env: str) -> tuple[subprocess.CompletedProcess, nbformat.NotebookNode]:
    exe = Path(sys.executable).parent / "papermill"
    assert exe.exists(), f"no papermill CLI next to {sys.executable} (tests/requirements.txt installs it)"
    out = tmp / "out.ipynb"
    cmd = [str(exe), str(NOTEBOOK), str(out), *params, "--execution-timeout", "300"]
    proc = subprocess.run(cmd, env=kernel_env(tmp / "home", LAKEHOUSE_MAX_COL_WIDTH="200", **env),
                          capture_output=True, text=True, timeout=600)
    assert out.exists(), f"papermill wrote no output notebook (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    return proc, nbformat.read(out, as_version=4)


def test_runs_under_nbconvert_with_its_defaults(tmp_path, kernel_binary) -> None:  # noqa: ARG001
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
           "--ExecutePreprocessor.timeout=300", "--output-dir", str(out), "--output", "cds.ipynb", str(NOTEBOOK)]
    proc = subprocess.run(cmd, env=kernel_env(tmp_path / "home", LAKEHOUSE_MAX_COL_WIDTH="200"),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"nbconvert failed:\n{proc.stderr[-4000:]}"
    nb = nbformat.read(out / "cds.ipynb", as_version=4)
    assert nb.metadata.kernelspec.name == "lakehouse"
    assert not errors(nb), errors(nb)
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.execution_count is not None, c.source
    [[events, features, validated]] = table_rows(cell(nb, "cds-validation"))
    assert (int(events), validated) == (5000, "true")
    # 5000 events of 1000 customers: a few customers have no event.
    assert 950 <= int(features) <= 1000, features
    assert "Passed: Should have events data" in text_of(cell(nb, "cds-validation"))
    # Five event types, 5000 events in all.
    eda = table_rows(cell(nb, "cds-eda-types"))
    assert sorted(r[0] for r in eda) == ["add_to_cart", "page_view", "purchase", "review", "search"]
    assert sum(int(r[1].replace(",", "")) for r in eda) == 5000
    # SUMMARIZE: one row per feature with Spark's statistics.
    summary = cell(nb, "cds-summary")
    cols = header(summary)
    for stat in ("count", "mean", "stddev", "min", "25%", "50%", "75%", "max"):
        assert stat in cols, cols
    assert [r[0] for r in table_rows(summary)] == ["total_spent", "purchases", "conversion_rate", "events_per_day"]
    assert all(r[cols.index("count")] == features for r in table_rows(summary))
    assert "Skipped" in text_of(cell(nb, "cds-cleanup"))


def test_papermill_parameters_set_the_row_counts(tmp_path, kernel_binary) -> None:  # noqa: ARG001
    proc, nb = papermill(tmp_path, "-p", "num_customers", "40", "-p", "num_events", "3000",
                         "-p", "database_name", "team_a", "-p", "execution_date", "2025-02-01")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not errors(nb), errors(nb)
    # 3000 events over 40 customers: every customer has events, so 40 feature rows.
    assert table_rows(cell(nb, "cds-validation")) == [["3000", "40", "true"]]
    # The tables are where the parameters say, partitioned by day, and persist.
    k = Kernel(tmp_path / "home")
    try:
        run = k.ok(
            "SELECT (SELECT count(*) FROM team_a.customer_events) AS events,"
            " (SELECT count(*) FROM team_a.customer_features) AS features,"
            " (SELECT count(*) FROM team_a.customer_events.partitions) AS partitions,"
            " (SELECT max(event_timestamp) FROM team_a.customer_events) < TIMESTAMP '2025-02-02 00:00:00' AS before_end,"
            " (SELECT min(event_timestamp) FROM team_a.customer_events) >= TIMESTAMP '2024-11-01 00:00:00' AS after_start"
        )
        text = "\n".join(r.get("text/plain", "") for r in run.results)
        row = [v.strip() for v in [line for line in text.splitlines() if line.startswith("|")][1].strip("|").split("|")]
        assert row[:2] == ["3000", "40"], text
        assert int(row[2]) > 60, text  # about 90 days of partitions
        assert row[3:5] == ["true", "true"], text
        run = k.ok("DESCRIBE EXTENDED team_a.customer_events")
        described = "\n".join(r.get("text/plain", "") for r in run.results)
        assert "days(event_timestamp)" in described, described
    finally:
        k.close()


def test_failing_validation_fails_the_run(tmp_path, kernel_binary) -> None:  # noqa: ARG001
    proc, nb = papermill(tmp_path, "-p", "num_events", "0", "-p", "database_name", "empty_run")
    assert proc.returncode == 1, f"papermill exited {proc.returncode}; the validation must fail it\n{proc.stderr[-2000:]}"
    assert "PapermillExecutionError" in proc.stderr and "Should have events data" in proc.stderr, proc.stderr[-4000:]
    [error] = errors(nb)
    assert error.ename == "AssertionError", error
    assert any(o.output_type == "error" for o in cell(nb, "cds-validation").outputs)
    cleanup = cell(nb, "cds-cleanup")
    assert cleanup.execution_count is None and not cleanup.outputs


def test_validation_can_be_switched_off(tmp_path, kernel_binary) -> None:  # noqa: ARG001
    proc, nb = papermill(tmp_path, "-p", "num_events", "0", "-p", "enable_validation", "False",
                         "-p", "enable_cleanup", "True", "-p", "database_name", "off")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not errors(nb), errors(nb)
    assert table_rows(cell(nb, "cds-validation")) == [["0", "0", "false"]]
    assert "Skipped" in text_of(cell(nb, "cds-validation"))
    assert re.search(r"Dropped table off\.customer_events", text_of(cell(nb, "cds-cleanup"))), text_of(cell(nb, "cds-cleanup"))


def test_runs_on_nessie_and_s3(tmp_path, lakehouse_env, kernel_binary) -> None:  # noqa: ARG001
    env = {k: v for k, v in lakehouse_env.items() if not k.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))}
    database = f"cds_{uuid.uuid4().hex[:8]}"
    proc, nb = papermill(tmp_path, "-p", "num_customers", "25", "-p", "num_events", "1500",
                         "-p", "database_name", database, **env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not errors(nb), errors(nb)
    assert table_rows(cell(nb, "cds-validation")) == [["1500", "25", "true"]]
    # Another session on the same Nessie sees the tables on main, data files on S3.
    k = Kernel(tmp_path / "checker", **env)
    try:
        run = k.ok(f"SELECT count(*), min(file_path) FROM {database}.customer_events.files")
        text = "\n".join(r.get("text/plain", "") for r in run.results)
        assert "s3://" in text, text
    finally:
        k.close()
