"""INSERT OVERWRITE, DELETE and CREATE OR REPLACE on a real Nessie server with the warehouse on
S3 (SeaweedFS), on the session's branch: each is one Nessie commit, and main is untouched until
the branch is merged.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from conftest import Kernel

pytest_plugins = ["services.conftest_fixtures"]


@pytest.fixture()
def nessie_kernel(tmp_path: Path, lakehouse_env: dict[str, str]):
    env = {k: v for k, v in lakehouse_env.items() if not k.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))}
    k = Kernel(tmp_path / "home", LAKEHOUSE_MAX_COL_WIDTH="200", **env)
    yield k
    k.close()


def plain(run) -> str:
    return "\n".join(r.get("text/plain", "") for r in run.results)


def column(run, col: int = 0) -> list[str]:
    """One column of the last result table's text/plain, top to bottom (a slow statement's
    progress line is a display of its own before the table, so only the table is read)."""
    tables = [r.get("text/plain", "") for r in run.results if "\n|" in r.get("text/plain", "")]
    assert tables, f"no table in {run.describe()[:3000]}"
    lines = tables[-1].split("\n")[3:]
    out = []
    for line in lines:
        if not line.startswith("|"):
            break
        out.append([c.strip() for c in line.strip("|").split("|")][col])
    return out


def test_overwrite_delete_and_replace_on_a_nessie_branch(nessie_kernel: Kernel, s3_server) -> None:
    k = nessie_kernel
    s, dev = "w" + uuid.uuid4().hex[:10], "dev_" + uuid.uuid4().hex[:8]
    k.ok(
        f"""CREATE SCHEMA {s};
        CREATE TABLE {s}.ev (id BIGINT, day DATE, v STRING) USING iceberg PARTITIONED BY (day);
        INSERT INTO {s}.ev VALUES (1, DATE '2025-01-01', 'a'), (2, DATE '2025-01-02', 'b'), (3, DATE '2025-01-02', 'c')"""
    )
    k.ok(f"CREATE BRANCH {dev} FROM main; USE REFERENCE {dev}")
    run = k.ok(f"INSERT OVERWRITE {s}.ev SELECT 20, DATE '2025-01-02', 'z'")
    assert f"Overwrote {s}.ev with 1 row" in run.stdout, run.stdout
    assert column(k.ok(f"SELECT id FROM {s}.ev ORDER BY id")) == ["1", "20"]
    run = k.ok(f"DELETE FROM {s}.ev WHERE id = 1")
    assert "Deleted 1 row" in run.stdout, run.stdout
    assert column(k.ok(f"SELECT id FROM {s}.ev ORDER BY id")) == ["20"]
    ops = column(k.ok(f"SELECT operation FROM {s}.`ev$snapshots` ORDER BY committed_at"))
    assert ops == ["append", "overwrite", "delete"], ops
    # A failing statement changes nothing.
    run = k.execute(f"DELETE FROM {s}.ev WHERE nope = 1")
    assert run.status == "error" and "nope" in run.error["evalue"], run.error
    run = k.execute(f"INSERT OVERWRITE {s}.ev SELECT 'x', DATE '2025-01-02', 'z'")
    assert run.status == "error" and run.error["ename"] == "TypeError", run.error
    assert column(k.ok(f"SELECT id FROM {s}.ev ORDER BY id")) == ["20"]
    # The commits are Nessie commits on dev, named for what they did.
    log = plain(k.ok(f"SHOW LOG {dev} LIMIT 5"))
    assert f"INSERT OVERWRITE {s}.ev" in log and f"DELETE FROM {s}.ev" in log, log
    # main is untouched.
    k.ok("USE REFERENCE main")
    assert column(k.ok(f"SELECT id FROM {s}.ev ORDER BY id")) == ["1", "2", "3"]
    # CREATE OR REPLACE keeps the table's history; the files are on S3.
    k.ok(f"CREATE OR REPLACE TABLE {s}.ev AS SELECT 1.5 AS price")
    assert column(k.ok(f"SELECT price FROM {s}.ev")) == ["1.5"]
    ops = column(k.ok(f"SELECT operation FROM {s}.`ev$snapshots` ORDER BY committed_at"))
    assert ops == ["append", "overwrite"], ops
    keys = s3_server.client().list_keys(s3_server.bucket, prefix=f"warehouse/{s}/ev_")
    assert sum(key.endswith(".parquet") for key in keys) >= 3, keys
    k.ok(f"DROP BRANCH {dev}")
