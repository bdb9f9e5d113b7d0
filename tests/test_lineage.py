"""Lineage: every commit names the notebook, its git commit and dirty flag, the cell, the user
and the papermill parameters (README, "Lineage").

Two notebooks in a temporary git repository write to one table: `committed.ipynb` (as it is
in HEAD) through `jupyter nbconvert --execute`, and `changed.ipynb` (with uncommitted changes)
through the papermill CLI with a secret-looking parameter. The snapshot summaries
(`t.snapshots`), `SHOW LINEAGE` and, on Nessie + S3, the Nessie log (`SHOW LOG` and the REST
API's commit properties) must name each one; the secret must reach no metadata.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from conftest import Kernel, kernel_env

pytest_plugins = ["services.conftest_fixtures"]

SECRET = "s3cr3t-" + uuid.uuid4().hex[:8]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    ).stdout.strip()


def notebook(cells: list[tuple[str, str, list[str]]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "lakehouse", "language": "sql", "display_name": "Lakehouse (SQL)"}
    nb.metadata["language_info"] = {"name": "sql"}
    for cell_id, source, tags in cells:
        c = nbformat.v4.new_code_cell(source)
        c.id = cell_id
        if tags:
            c.metadata["tags"] = tags
        nb.cells.append(c)
    return nb


def make_repo(root: Path, table: str, branches: tuple[str, str] | None) -> dict[str, object]:
    """The repository: both notebooks committed, then `changed.ipynb` edited (not committed)."""
    repo = root / "repo"
    nbs = repo / "nbs"
    nbs.mkdir(parents=True)
    use = ["", ""]
    if branches:
        use = [f"CREATE BRANCH IF NOT EXISTS {b} FROM main; USE REFERENCE {b};\n" for b in branches]
    committed = notebook([
        ("committed-write", f"{use[0]}INSERT INTO {table} VALUES ('committed', 1)", []),
    ])
    changed = notebook([
        ("changed-params", "SET num_events = 1;\nSET api_token = 'none';", ["parameters"]),
        ("changed-write", f"{use[1]}INSERT INTO {table} VALUES ('changed', $num_events)", []),
    ])
    nbformat.write(committed, nbs / "committed.ipynb")
    nbformat.write(changed, nbs / "changed.ipynb")
    git(repo, "init", "-q", "-b", "analysis")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "two notebooks")
    # An uncommitted change: a markdown cell more.
    changed.cells.insert(0, nbformat.v4.new_markdown_cell("Edited, not committed."))
    changed.cells[0].id = "changed-note"
    nbformat.write(changed, nbs / "changed.ipynb")
    return {"repo": repo, "nbs": nbs, "head": git(repo, "rev-parse", "HEAD")}


def run_notebooks(root: Path, env: dict[str, str]) -> None:
    """nbconvert on committed.ipynb (the OS user), papermill on changed.ipynb (a hub user),
    each started from the notebooks' folder with a relative path."""
    nbs, out = root / "repo" / "nbs", root / "out"
    out.mkdir()
    base = {k: v for k, v in env.items() if k not in ("JPY_SESSION_NAME", "JUPYTERHUB_USER")}
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "committed.ipynb",
         "--output-dir", str(out)],
        cwd=nbs, env=base, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"nbconvert failed:\n{proc.stderr[-4000:]}"
    papermill = Path(sys.executable).parent / "papermill"
    proc = subprocess.run(
        [str(papermill), "changed.ipynb", str(out / "changed.ipynb"), "-p", "num_events", "5",
         "-p", "api_token", SECRET, "--execution-timeout", "120"],
        cwd=nbs, env={**base, "JUPYTERHUB_USER": "hub-ann"}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"papermill failed:\n{proc.stderr[-4000:]}"


def rows(run) -> list[list[str]]:
    text = "\n".join(r.get("text/plain", "") for r in run.results)
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:]]


def by_header(run) -> list[dict[str, str]]:
    text = "\n".join(r.get("text/plain", "") for r in run.results)
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, r)) for r in rows(run)]


def check_summaries(k: Kernel, table: str, repo: dict[str, object]) -> None:
    """`t.snapshots` has each notebook's keys, newest last; nothing of the secret."""
    keys = ["notebook", "runner", "git.commit", "git.branch", "git.dirty", "git.path", "cell.id", "user",
            "param.num_events", "param.api_token"]
    cols = ", ".join(f"summary['lakehouse.{key}'] AS \"{key}\"" for key in keys)
    got = by_header(k.ok(
        f"SELECT {cols}, summary['engine-name'] AS engine FROM {table}.snapshots "
        "WHERE summary['lakehouse.cell.id'] IS NOT NULL ORDER BY committed_at"
    ))
    assert len(got) == 2, got
    first, second = got
    nbs = repo["nbs"]
    assert first["notebook"] == str(nbs / "committed.ipynb"), first
    assert second["notebook"] == str(nbs / "changed.ipynb"), second
    assert (first["runner"], second["runner"]) == ("nbconvert", "papermill")
    assert first["git.commit"] == second["git.commit"] == repo["head"], got
    assert (first["git.dirty"], second["git.dirty"]) == ("false", "true"), got
    assert first["git.branch"] == "analysis" and first["git.path"] == "nbs/committed.ipynb", first
    assert (first["cell.id"], second["cell.id"]) == ("committed-write", "changed-write"), got
    assert second["user"] == "hub-ann" and first["user"] not in ("", "hub-ann"), got
    assert second["param.num_events"] == "5" and first["param.num_events"] == "NULL", got
    assert first["param.api_token"] == second["param.api_token"] == "NULL", got
    assert first["engine"] == "lakehouse-kernel", first
    lineage = by_header(k.ok(f"SHOW LINEAGE {table}"))
    mine = [r for r in lineage if r["cell_id"]]
    assert [r["cell_id"] for r in mine] == ["changed-write", "committed-write"], lineage
    assert mine[0]["git_commit"] == f"{repo['head']}+dirty" and mine[1]["git_commit"] == repo["head"], mine
    assert mine[0]["parameters"] == "num_events=5", mine
    assert SECRET not in json.dumps(lineage) and "api_token" not in json.dumps(lineage)
    what = by_header(k.ok("SHOW LINEAGE FOR NOTEBOOK 'nbs/changed.ipynb'"))
    assert [r["cell_id"] for r in what] == ["changed-write"], what


def assert_no_secret_under(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            assert SECRET.encode() not in p.read_bytes(), f"{p} holds the secret parameter"


def test_embedded_catalog_lineage(tmp_path: Path, kernel_binary) -> None:  # noqa: ARG001
    home = tmp_path / "home"
    k = Kernel(home, LAKEHOUSE_MAX_COL_WIDTH="300")
    try:
        k.ok("CREATE SCHEMA lin; CREATE TABLE lin.events (who STRING, n BIGINT)")
        repo = make_repo(tmp_path, "lin.events", None)
        run_notebooks(tmp_path, kernel_env(home, LAKEHOUSE_MAX_COL_WIDTH="300"))
        check_summaries(k, "lin.events", repo)
        assert_no_secret_under(home)
    finally:
        k.close()


def test_nessie_lineage(tmp_path: Path, lakehouse_env: dict[str, str], s3_server) -> None:
    env = {key: v for key, v in lakehouse_env.items()
           if not key.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))}
    env["LAKEHOUSE_MAX_COL_WIDTH"] = "300"
    tag = uuid.uuid4().hex[:8]
    schema, branches = f"lin_{tag}", (f"lin_a_{tag}", f"lin_b_{tag}")
    k = Kernel(tmp_path / "home", **env)
    try:
        k.ok(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.events (who STRING, n BIGINT)")
        repo = make_repo(tmp_path, f"{schema}.events", branches)
        run_notebooks(tmp_path, kernel_env(tmp_path / "runs-home", **env))
        # Each branch's log: its notebook's commit, with author, notebook, git commit and cell.
        for branch, cell_id, dirty in ((branches[0], "committed-write", ""), (branches[1], "changed-write", "+dirty")):
            [top] = by_header(k.ok(f"SHOW LOG {branch} LIMIT 1"))
            assert top["message"] == f"INSERT INTO {schema}.events", top
            assert top["cell_id"] == cell_id and top["git_commit"] == f"{repo['head']}{dirty}", top
            assert top["notebook"].endswith(cell_id.split("-")[0] + ".ipynb"), top
        # The raw commit metadata: authors and properties as Nessie stores them.
        with urllib.request.urlopen(f"{lakehouse_env['NESSIE_URI']}/trees/{branches[1]}/history?max-records=1") as r:
            meta = json.load(r)["logEntries"][0]["commitMeta"]
        assert meta["authors"] == ["hub-ann"], meta
        props = meta["allProperties"]
        assert props["lakehouse.param.num_events"] == ["5"], props
        assert props["lakehouse.git.dirty"] == ["true"] and props["lakehouse.runner"] == ["papermill"], props
        assert props["engine-name"] == ["lakehouse-kernel"], props
        assert SECRET not in json.dumps(meta) and not any("token" in key for key in props), props
        # The snapshot summaries on each branch carry the same keys (Spark reads these).
        k.ok(f"USE REFERENCE {branches[1]}")
        [snap] = by_header(k.ok(
            f"SELECT summary['lakehouse.cell.id'] AS cell, summary['lakehouse.user'] AS who "
            f"FROM {schema}.events.snapshots WHERE summary['lakehouse.cell.id'] IS NOT NULL"
        ))
        assert snap == {"cell": "changed-write", "who": "hub-ann"}, snap
        what = by_header(k.ok("SHOW LINEAGE FOR NOTEBOOK 'changed.ipynb'"))
        assert [r["cell_id"] for r in what] == ["changed-write"], what
        k.ok("USE REFERENCE main")
        # MERGE BRANCH: the merge commit names its author and cell like a data commit.
        target = f"lin_m_{tag}"
        k.ok(f"CREATE BRANCH {target} FROM main")
        k.ok(f"MERGE BRANCH {branches[1]} INTO {target}")
        with urllib.request.urlopen(f"{lakehouse_env['NESSIE_URI']}/trees/{target}/history?max-records=1") as r:
            merge = json.load(r)["logEntries"][0]["commitMeta"]
        assert merge["message"] == f"MERGE BRANCH {branches[1]} INTO {target}", merge
        props = merge["allProperties"]
        assert props.get("engine-name") == ["lakehouse-kernel"], merge
        assert props.get("lakehouse.user") == merge["authors"] and merge["authors"] != [""], merge
        [top] = by_header(k.ok(f"SHOW LOG {target} LIMIT 1"))
        assert top["message"] == merge["message"] and top["author"] == merge["authors"][0], top
        for b in (*branches, target):
            k.ok(f"DROP BRANCH {b}")
    finally:
        k.close()
