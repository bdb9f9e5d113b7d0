"""The kernel on a real Nessie server with the warehouse on a real S3 server (SeaweedFS).

Both servers are started by tests/services on loopback for this test session.
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
    k = Kernel(tmp_path / "home", **env)
    yield k
    k.close()


def ns() -> str:
    return "t" + uuid.uuid4().hex[:10]


def plain(run) -> str:
    return "\n".join(r.get("text/plain", "") for r in run.results)


def test_tables_on_s3_through_nessie(nessie_kernel: Kernel, s3_server) -> None:
    k, s = nessie_kernel, ns()
    run = k.ok(
        f"""CREATE SCHEMA {s};
        CREATE TABLE {s}.events (customer_id STRING, amount DOUBLE);
        INSERT INTO {s}.events VALUES ('c1', 1.5), ('c2', 2.5), ('c3', NULL);
        SELECT count(*) AS n, sum(amount) AS total FROM {s}.events;"""
    )
    assert f"Inserted 3 rows into {s}.events" in run.stdout
    text = plain(run)
    row = [c.strip() for c in text.split("\n")[3].strip("|").split("|")]
    assert row == ["3", "4.0"], text
    assert "ref main" in text, text
    # The data files really are on the S3 server.
    keys = s3_server.client().list_keys(s3_server.bucket, prefix=f"warehouse/{s}/events/")
    assert any(key.endswith(".parquet") for key in keys), keys
    assert any(key.endswith(".metadata.json") for key in keys), keys
    k.ok(f"DROP TABLE {s}.events")
    err = k.execute(f"SELECT * FROM {s}.events")
    assert err.status == "error" and err.error["ename"] == "TableNotFound"


def test_branch_write_merge_and_log(nessie_kernel: Kernel) -> None:
    k, s, dev = nessie_kernel, ns(), "dev_" + uuid.uuid4().hex[:8]
    k.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (x BIGINT); INSERT INTO {s}.t VALUES (1)")
    run = k.ok(f"CREATE BRANCH {dev} IN lakehouse FROM main")
    assert f"Created branch {dev}" in run.stdout
    run = k.ok(f"USE REFERENCE {dev}")
    assert f"Using branch {dev}" in run.stdout
    k.ok(f"INSERT INTO {s}.t VALUES (2), (3)")
    run = k.ok(f"SELECT count(*) AS n FROM {s}.t")
    assert f"ref {dev}" in plain(run)
    assert "3" in plain(run).split("\n")[3], plain(run)
    # main is unchanged until the merge.
    k.ok("USE REFERENCE main")
    run = k.ok(f"SELECT count(*) AS n FROM {s}.t")
    assert plain(run).split("\n")[3].strip("| ").strip() == "1", plain(run)
    run = k.ok(f"MERGE BRANCH {dev} INTO main")
    assert f"Merged {dev} into main" in run.stdout
    run = k.ok(f"SELECT count(*) AS n FROM {s}.t")
    assert plain(run).split("\n")[3].strip("| ").strip() == "3", plain(run)
    run = k.ok(f"SHOW LOG {dev} LIMIT 10")
    log = plain(run)
    assert f"INSERT INTO {s}.t" in log and f"CREATE TABLE {s}.t" in log, log
    run = k.ok("LIST REFERENCES")
    assert dev in plain(run) and "main" in plain(run)
    run = k.ok("SHOW REFERENCE")
    assert "main" in plain(run)
    k.ok(f"DROP BRANCH {dev}")


def test_unknown_branch_lists_references(nessie_kernel: Kernel) -> None:
    run = nessie_kernel.execute("USE REFERENCE no_such_branch")
    assert run.status == "error"
    assert "main" in run.error["evalue"], run.error
    nessie_kernel.assert_alive()


def test_branch_statements_without_nessie_explain_what_to_set(tmp_path: Path) -> None:
    k = Kernel(tmp_path / "home")
    try:
        run = k.execute("CREATE BRANCH dev")
        assert run.status == "error"
        assert "NESSIE_URI" in run.error["evalue"]
        k.ok("SELECT 1")
    finally:
        k.close()
