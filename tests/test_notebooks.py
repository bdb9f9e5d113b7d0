"""examples/quickstart.ipynb runs headless through `jupyter nbconvert --execute` (nbclient)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat

from conftest import REPO, kernel_env

NOTEBOOK = REPO / "examples" / "quickstart.ipynb"


def nbconvert(home: Path, out_dir: Path) -> nbformat.NotebookNode:
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
           "--ExecutePreprocessor.timeout=120", "--output-dir", str(out_dir), "--output", "quickstart.out.ipynb",
           str(NOTEBOOK)]
    proc = subprocess.run(cmd, env=kernel_env(home), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"nbconvert failed:\n{proc.stderr[-4000:]}"
    return nbformat.read(out_dir / "quickstart.out.ipynb", as_version=4)


def cell_with(nb: nbformat.NotebookNode, needle: str) -> nbformat.NotebookNode:
    cells = [c for c in nb.cells if c.cell_type == "code" and needle in c.source]
    assert cells, f"no code cell containing {needle!r}"
    return cells[0]


def counts_by_event_type(cell: nbformat.NotebookNode) -> dict[str, int]:
    results = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert len(results) == 1, [o.output_type for o in cell.outputs]
    html = results[0].data["text/html"]
    assert "<table" in html
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", html, flags=re.S)
    out = {}
    for row in rows:
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        if len(cells) == 2:
            out[cells[0]] = int(cells[1].replace(",", ""))
    return out


EXPECTED = {"purchase": 3, "view": 4, "refund": 1}


def test_quickstart_executes(tmp_path, kernel_binary):  # noqa: ARG001
    nb = nbconvert(tmp_path / "home", tmp_path / "out")
    assert nb.metadata.kernelspec.name == "lakehouse"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
            assert cell.execution_count is not None, cell.source
    assert counts_by_event_type(cell_with(nb, "GROUP BY event_type")) == EXPECTED
    show = cell_with(nb, "SHOW TABLES")
    assert any("events" in str(o.get("data", {}).get("text/plain", "")) for o in show.outputs)


def test_quickstart_twice_in_one_home_keeps_the_first_rows(tmp_path, kernel_binary):  # noqa: ARG001
    home = tmp_path / "home"
    nbconvert(home, tmp_path / "out1")
    nb = nbconvert(home, tmp_path / "out2")
    assert counts_by_event_type(cell_with(nb, "GROUP BY event_type")) == {k: 2 * v for k, v in EXPECTED.items()}
