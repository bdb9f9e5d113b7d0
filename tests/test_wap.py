"""Write–audit–publish (examples/write-audit-publish.ipynb) with papermill on real Nessie + S3.

The notebook writes a run's rows to its own branch, audits them with ASSERT and merges into
main only when every audit passed. papermill runs it twice into one schema: once clean (the
rows land on main, the branch is dropped), once with bad rows injected (papermill fails with
the AssertionError, main's HEAD does not move, the branch keeps the bad rows for inspection).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from conftest import REPO, Kernel, kernel_env

pytest_plugins = ["services.conftest_fixtures"]

NOTEBOOK = REPO / "examples" / "write-audit-publish.ipynb"
TAG = uuid.uuid4().hex[:8]
DATABASE = f"wap_{TAG}"
GOOD, BAD = f"wap_ok_{TAG}", f"wap_bad_{TAG}"
NUM_ROWS = 100


def catalog_env(lakehouse_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in lakehouse_env.items() if not k.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))}
    env["LAKEHOUSE_MAX_COL_WIDTH"] = "200"
    return env


def papermill(tmp: Path, lakehouse_env: dict[str, str], *params: str) -> tuple[subprocess.CompletedProcess, nbformat.NotebookNode, float]:
    exe = Path(sys.executable).parent / "papermill"
    assert exe.exists(), f"no papermill CLI next to {sys.executable} (tests/requirements.txt installs it)"
    out = tmp / "out.ipynb"
    cmd = [str(exe), str(NOTEBOOK), str(out), *params, "--execution-timeout", "120"]
    started = time.monotonic()
    proc = subprocess.run(
        cmd, env=kernel_env(tmp / "home", **catalog_env(lakehouse_env)), capture_output=True, text=True, timeout=300
    )
    seconds = time.monotonic() - started
    assert out.exists(), f"papermill wrote no output notebook (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    return proc, nbformat.read(out, as_version=4), seconds


def nessie_ref(lakehouse_env: dict[str, str], name: str) -> dict | None:
    """Nessie's REST API v2: the reference (with its HEAD hash), or None when there is none."""
    try:
        with urllib.request.urlopen(f"{lakehouse_env['NESSIE_URI']}/trees/{name}", timeout=10) as r:
            return json.load(r)["reference"]
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def cell(nb: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    [c] = [c for c in nb.cells if c.get("id") == cell_id]
    return c


def errors(nb: nbformat.NotebookNode) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


def stdout(c: nbformat.NotebookNode) -> str:
    return "".join(o.text for o in c.get("outputs", []) if o.output_type == "stream" and o.name == "stdout")


def rows(run) -> list[list[str]]:
    """Data rows of a result's aligned text table."""
    text = "\n".join(r.get("text/plain", "") for r in run.results)
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:]]


@pytest.fixture(scope="module")
def checker(tmp_path_factory, lakehouse_env, kernel_binary):  # noqa: ARG001
    """A kernel of our own on the same catalog, for looking at main and the branches."""
    k = Kernel(tmp_path_factory.mktemp("wap-checker") / "home", **catalog_env(lakehouse_env))
    yield k
    k.close()


@pytest.fixture(scope="module")
def passing_run(tmp_path_factory, lakehouse_env, kernel_binary):  # noqa: ARG001
    tmp = tmp_path_factory.mktemp("wap-ok")
    return papermill(tmp, lakehouse_env, "-p", "branch", GOOD, "-p", "database_name", DATABASE, "-p", "num_rows", str(NUM_ROWS))


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory, lakehouse_env, passing_run):  # noqa: ARG001 (runs after the passing run)
    tmp = tmp_path_factory.mktemp("wap-bad")
    before = nessie_ref(lakehouse_env, "main")
    proc, nb, seconds = papermill(
        tmp, lakehouse_env,
        "-p", "branch", BAD, "-p", "database_name", DATABASE, "-p", "num_rows", str(NUM_ROWS), "-p", "inject_bad_rows", "True",
    )
    after = nessie_ref(lakehouse_env, "main")
    return proc, nb, seconds, before, after


def test_passing_run_publishes_to_main(passing_run, checker: Kernel, lakehouse_env) -> None:
    proc, nb, seconds = passing_run
    assert proc.returncode == 0, f"papermill failed ({seconds:.1f}s):\n{proc.stderr[-4000:]}"
    assert not errors(nb), errors(nb)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert [c.source for c in injected] == [
        f"-- Parameters\nSET branch = '{GOOD}';\nSET database_name = '{DATABASE}';\nSET num_rows = {NUM_ROWS};\n"
    ]
    audit = stdout(cell(nb, "wap-audit"))
    assert audit.count("Passed") == 3, audit
    assert f"Merged {GOOD} into main" in stdout(cell(nb, "wap-publish"))
    # main has the run's rows, all of them clean; the branch was dropped after the merge.
    run = checker.ok(
        f"USE REFERENCE main; SELECT count(*), count(order_id), min(amount) >= 0 "
        f"FROM {DATABASE}.orders WHERE batch = '{GOOD}'"
    )
    assert rows(run) == [[str(NUM_ROWS), str(NUM_ROWS), "true"]], run.describe()
    assert nessie_ref(lakehouse_env, GOOD) is None
    # The notebook's last cell shows the batch on main.
    [result] = [o for o in cell(nb, "wap-result").outputs if o.output_type == "execute_result"]
    assert re.search(rf"\|\s*{GOOD}\s*\|\s*{NUM_ROWS}\s*\|", result.data["text/plain"]), result.data["text/plain"]


def test_failing_audit_stops_before_publish(failing_run) -> None:
    proc, nb, seconds, _, _ = failing_run
    assert proc.returncode == 1, f"papermill exited {proc.returncode}; the audit must fail it ({seconds:.1f}s)\n{proc.stderr[-2000:]}"
    assert "PapermillExecutionError" in proc.stderr, proc.stderr[-4000:]
    assert "AssertionError" in proc.stderr and "orders must have an order_id" in proc.stderr, proc.stderr[-4000:]
    [error] = errors(nb)
    assert error.ename == "AssertionError", error
    assert "orders must have an order_id" in error.evalue, error
    audit = cell(nb, "wap-audit")
    assert any(o.output_type == "error" for o in audit.outputs), audit.outputs
    # The summary cell before the audit shows what was wrong; nothing after the audit ran.
    summary = "".join(o.get("data", {}).get("text/plain", "") for o in cell(nb, "wap-audit-summary").outputs)
    assert re.search(rf"\|\s*{NUM_ROWS + 3}\s*\|\s*1\s*\|\s*3\s*\|", summary), summary
    for later in ("wap-publish", "wap-result"):
        c = cell(nb, later)
        assert c.execution_count is None and not c.outputs, (later, c.outputs)


def test_failing_run_leaves_main_untouched(failing_run, checker: Kernel) -> None:
    _, _, _, before, after = failing_run
    assert before is not None and after is not None
    assert after["hash"] == before["hash"], f"main moved during the failing run: {before} -> {after}"
    run = checker.ok(
        f"USE REFERENCE main; SELECT batch, count(*) FROM {DATABASE}.orders GROUP BY batch ORDER BY batch"
    )
    assert rows(run) == [[GOOD, str(NUM_ROWS)]], run.describe()


def test_failing_run_keeps_its_branch_for_inspection(failing_run, checker: Kernel, lakehouse_env) -> None:
    _, _, _, _, main = failing_run
    branch = nessie_ref(lakehouse_env, BAD)
    assert branch is not None and branch["type"] == "BRANCH", branch
    assert branch["hash"] != main["hash"], "the branch has no commits of its own"
    run = checker.ok(
        f"SELECT count(*), count(*) FILTER (WHERE order_id IS NULL), count(*) FILTER (WHERE amount < 0) "
        f"FROM {DATABASE}.`orders@{BAD}` WHERE batch = '{BAD}'"
    )
    assert rows(run) == [[str(NUM_ROWS + 3), "1", "3"]], run.describe()
    # Done inspecting: the branch can go (main is still as it was).
    checker.ok(f"USE REFERENCE main; DROP BRANCH {BAD}")
    assert nessie_ref(lakehouse_env, BAD) is None


def test_parameter_in_table_function_arguments(checker: Kernel) -> None:
    run = checker.ok("SET n = 3; SELECT count(*) FROM range($n)")
    assert rows(run) == [["3"]], run.describe()
