"""papermill parameters for the lakehouse kernel (kernelspec/python, `lakehouse_kernel_glue`).

The translator is checked in pure Python, then end to end: the plain `papermill` CLI injects
`SET name = <literal>;` statements into a notebook and runs it on the real kernel.
tests/lib.sh installs kernelspec/python into the venv.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import kernel_env


@pytest.fixture(scope="module")
def translator():
    # papermill imports its `papermill.engine` entry points when papermill.engines is imported
    # (the CLI and execute_notebook do); that is how the translator gets registered.
    import papermill.engines  # noqa: F401
    from papermill.translators import papermill_translators

    from lakehouse_kernel_glue.papermill_translator import SQLTranslator

    assert papermill_translators.find_translator("lakehouse", "whatever") is SQLTranslator
    assert papermill_translators.find_translator("some-sql-kernel", "sql") is SQLTranslator
    return SQLTranslator


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("O'Brien", "'O''Brien'"),
        ("''", "''''''"),
        ("back\\slash \"dq\"\nline", "'back\\slash \"dq\"\nline'"),
        ("", "''"),
        (42, "42"),
        (-7, "-7"),
        (0, "0"),
        (1.5, "1.5"),
        (-0.25, "-0.25"),
        (1e-05, "1e-05"),
        (True, "true"),
        (False, "false"),
        (None, "NULL"),
        ([1, 2, 3], "[1, 2, 3]"),
        (["a", "b"], "['a', 'b']"),
        ([[1, 2], [3]], "[[1, 2], [3]]"),
        (["it's", None, True, 2.5], "['it''s', NULL, true, 2.5]"),
        ([], "[]"),
        ((1, 2), "[1, 2]"),
        (dt.date(2025, 1, 16), "DATE '2025-01-16'"),
        (dt.datetime(2025, 1, 16, 10, 0, 0), "TIMESTAMP '2025-01-16T10:00:00'"),
        (dt.datetime(2025, 1, 16, 10, 0, 0, 123456), "TIMESTAMP '2025-01-16T10:00:00.123456'"),
    ],
)
def test_translates_each_type(translator, value, literal):
    assert translator.translate(value) == literal


def test_codify_is_a_comment_then_one_set_per_parameter(translator):
    from papermill.translators import translate_parameters

    params = {"num_events": 100, "database_name": "demo'2", "since": dt.date(2025, 1, 16), "flag": False}
    text = translate_parameters("lakehouse", "sql", params, "Parameters")
    assert text == (
        "-- Parameters\n"
        "SET num_events = 100;\n"
        "SET database_name = 'demo''2';\n"
        "SET since = DATE '2025-01-16';\n"
        "SET flag = false;\n"
    )
    assert translator.codify({}) == "-- Parameters\n"


@pytest.mark.parametrize("value", [{"a": 1}, [1, {"a": 1}], {1, 2}, b"bytes", object()])
def test_refuses_dicts_and_other_types_saying_which_work(translator, value):
    with pytest.raises(ValueError) as e:
        translator.codify({"p": value})
    msg = str(e.value)
    assert "'p'" in msg
    assert "str, int, float" in msg and "datetime.date" in msg


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, [1.0, math.nan]])
def test_refuses_nan_and_infinity(translator, value):
    with pytest.raises(ValueError, match="NaN or infinity"):
        translator.codify({"x": value})


@pytest.mark.parametrize("name", ["1abc", "a-b", "a b", "x;DROP", "", "naïve", "a.b"])
def test_refuses_names_that_are_not_identifiers(translator, name):
    with pytest.raises(ValueError, match="not a valid SQL identifier"):
        translator.codify({name: 1})


def test_accepts_identifier_names(translator):
    assert translator.codify({"_x": 1, "A_9": 2}) == "-- Parameters\nSET _x = 1;\nSET A_9 = 2;\n"


def test_inspect_reads_the_parameters_cell(translator):
    cell = nbformat.v4.new_code_cell(
        "-- defaults\nSET num_events = 5;  -- how many\nSET name = 'x';\nset ratio = 0.5\nSELECT 1;\n"
    )
    got = [(p.name, p.inferred_type_name, p.default, p.help) for p in translator.inspect(cell)]
    assert got == [
        ("num_events", "int", "5", "how many"),
        ("name", "str", "'x'", ""),
        ("ratio", "float", "0.5", ""),
    ]


# -- end to end: the papermill CLI and the real kernel ----------------------------------------

PARAMETERS_CELL = "SET num_events = 5;"
QUERY = "SELECT $num_events AS n, $database_name AS db, arrow_typeof($num_events) AS t"
INJECTED = ["-- Parameters", "SET num_events = 100;", "SET database_name = 'demo''2';"]


def _papermill_cli() -> Path:
    exe = Path(sys.executable).parent / "papermill"
    assert exe.exists(), f"no papermill CLI next to {sys.executable} (tests/requirements.txt installs it)"
    return exe


@pytest.fixture(scope="module")
def papermill_run(tmp_path_factory, kernel_binary):  # noqa: ARG001
    tmp = tmp_path_factory.mktemp("papermill")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "lakehouse", "language": "sql", "display_name": "Lakehouse (SQL)"}
    nb.metadata["language_info"] = {"name": "sql"}
    params = nbformat.v4.new_code_cell(PARAMETERS_CELL)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(QUERY)]
    src, out = tmp / "in.ipynb", tmp / "out.ipynb"
    nbformat.write(nb, src)
    cmd = [str(_papermill_cli()), str(src), str(out), "-p", "num_events", "100", "-p", "database_name", "demo'2",
           "--execution-timeout", "120"]
    proc = subprocess.run(cmd, env=kernel_env(tmp / "home"), capture_output=True, text=True, timeout=300)
    assert out.exists(), f"papermill wrote no output notebook (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    return proc, nbformat.read(out, as_version=4)


def test_papermill_injects_set_statements(papermill_run):
    proc, nb = papermill_run
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1, f"no injected-parameters cell:\n{proc.stderr[-4000:]}"
    assert injected[0].source.splitlines() == INJECTED
    # papermill puts it right after the `parameters` cell, which stays as it was.
    i = nb.cells.index(injected[0])
    assert nb.cells[i - 1].source == PARAMETERS_CELL
    assert "parameters" in nb.cells[i - 1].metadata["tags"]
    assert nb.metadata.papermill.parameters == {"num_events": 100, "database_name": "demo'2"}


def test_papermill_runs_the_notebook_on_the_kernel(papermill_run):
    proc, nb = papermill_run
    errors = [
        (c, o) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert proc.returncode == 0, f"papermill failed:\n{proc.stderr[-4000:]}"
    assert not errors, [o for _, o in errors]
    last = nb.cells[-1]
    assert last.source == QUERY
    results = [o for o in last.outputs if o.output_type == "execute_result"]
    assert len(results) == 1, [o.output_type for o in last.outputs]
    html = results[0].data["text/html"]
    assert "<table" in html
    # The injected values won over the notebook's defaults, typed, quote intact.
    cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, flags=re.S)]
    assert [re.sub(r"<[^>]+>", "", c) for c in cells] == ["100", "demo&#39;2", "Int64"], cells


# -- the quickstart notebook with several parameter sets ---------------------------------------

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"


def _run_quickstart(tmp: Path, *params: str) -> nbformat.NotebookNode:
    out = tmp / "out.ipynb"
    cmd = [str(_papermill_cli()), str(QUICKSTART), str(out), *params, "--execution-timeout", "120"]
    proc = subprocess.run(cmd, env=kernel_env(tmp / "home"), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"papermill failed:\n{proc.stderr[-4000:]}"
    return nbformat.read(out, as_version=4)


def _filtered_rows(nb: nbformat.NotebookNode) -> list[list[str]]:
    [cell] = [c for c in nb.cells if c.cell_type == "code" and "$event_type" in c.source]
    [result] = [o for o in cell.outputs if o.output_type == "execute_result"]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", result.data["text/html"], flags=re.S)
    out = []
    for row in rows:
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        if cells:
            out.append(cells)
    return out


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ((), [["c1", "purchase", "12.5"], ["c2", "purchase", "40.0"]]),
        (("-p", "event_type", "purchase", "-p", "min_amount", "20"), [["c2", "purchase", "40.0"]]),
        (("-p", "event_type", "refund", "-y", "min_amount: -100"), [["c2", "refund", "-40.0"]]),
        # A quote in a value is data, never SQL: no rows, and no error.
        (("-p", "event_type", "x' OR 'a'='a", "-p", "min_amount", "0"), []),
    ],
    ids=["defaults", "purchases-over-20", "refunds", "quote-in-value"],
)
def test_quickstart_with_parameter_sets(tmp_path, kernel_binary, params, expected):  # noqa: ARG001
    nb = _run_quickstart(tmp_path, *params)
    assert _filtered_rows(nb) == expected
    chart = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%sql --chart")]
    [result] = [o for o in chart[0].outputs if o.output_type == "execute_result"]
    assert result.data["application/vnd.vegalite.v5+json"]["mark"]["type"] == "bar"
