"""The kernel on a real Nessie server with the warehouse on a real S3 server (SeaweedFS).

Both servers are started by tests/services on loopback for this test session.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from conftest import Kernel, append_concurrently

pytest_plugins = ["services.conftest_fixtures"]


@pytest.fixture()
def nessie_kernel(tmp_path: Path, lakehouse_env: dict[str, str]):
    env = {k: v for k, v in lakehouse_env.items() if not k.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))}
    # Full commit hashes in results, for the tests that read them back.
    k = Kernel(tmp_path / "home", LAKEHOUSE_MAX_COL_WIDTH="200", **env)
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
    keys = s3_server.client().list_keys(s3_server.bucket, prefix=f"warehouse/{s}/events_")
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


class Switch:
    """A TCP forwarder in front of Nessie that can be turned off and on (Nessie 'down')."""

    def __init__(self, target_port: int) -> None:
        import socket
        import threading

        self.target = ("127.0.0.1", target_port)
        self._on = True
        self.live: list = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self.stopped:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self._on:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self.live += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    @property
    def on(self) -> bool:
        return self._on

    @on.setter
    def on(self, value: bool) -> None:
        self._on = value
        if not value:
            # Pooled keep-alive connections must break too, as when the server goes away.
            for sock in self.live:
                try:
                    sock.close()
                except OSError:
                    pass
            self.live.clear()

    def close(self) -> None:
        self.stopped = True
        self.server.close()


def test_nessie_down_then_back(tmp_path: Path, lakehouse_env: dict[str, str]) -> None:
    from urllib.parse import urlparse

    real = urlparse(lakehouse_env["NESSIE_URI"])
    switch = Switch(real.port)
    uri = f"http://127.0.0.1:{switch.port}{real.path}"
    env = {k: v for k, v in lakehouse_env.items() if not k.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))}
    env["NESSIE_URI"] = uri
    k = Kernel(tmp_path / "home", **env)
    s = ns()
    try:
        k.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (x BIGINT); INSERT INTO {s}.t VALUES (1)")
        switch.on = False
        run = k.execute(f"INSERT INTO {s}.t VALUES (2)")
        assert run.status == "error"
        assert f"127.0.0.1:{switch.port}" in run.error["evalue"], run.error
        k.assert_alive()
        switch.on = True
        run = k.ok(f"SELECT count(*) AS n FROM {s}.t")
        # The failed write left the table as it was.
        assert plain(run).split("\n")[3].strip("| ").strip() == "1", plain(run)
        k.ok(f"INSERT INTO {s}.t VALUES (3)")
    finally:
        k.close()
        switch.close()


def test_nessie_down_at_start_then_back(tmp_path: Path, lakehouse_env: dict[str, str]) -> None:
    from urllib.parse import urlparse

    real = urlparse(lakehouse_env["NESSIE_URI"])
    switch = Switch(real.port)
    switch.on = False
    env = {k: v for k, v in lakehouse_env.items() if not k.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))}
    env["NESSIE_URI"] = f"http://127.0.0.1:{switch.port}{real.path}"
    k = Kernel(tmp_path / "home", **env)
    try:
        run = k.execute("SHOW TABLES")
        assert run.status == "error" and f"127.0.0.1:{switch.port}" in run.error["evalue"], run.error
        switch.on = True
        k.ok("SHOW TABLES")
    finally:
        k.close()
        switch.close()


def cell(run, row: int = 0, col: int = 0) -> str:
    """One value of the last result table's text/plain (row 0 is the first data row). A slow
    statement's progress line is a display of its own before the table: only the table is read."""
    tables = [r.get("text/plain", "") for r in run.results if "\n|" in r.get("text/plain", "")]
    assert tables, f"no table in {plain(run)[:3000]}"
    lines = tables[-1].split("\n")
    return [c.strip() for c in lines[3 + row].strip("|").split("|")][col]


def head_of(k: Kernel, ref: str) -> str:
    run = k.ok("LIST REFERENCES")
    for line in plain(run).split("\n")[3:]:
        cols = [c.strip() for c in line.strip("|").split("|")]
        if cols and cols[0] == ref:
            return cols[2]
    raise AssertionError(f"{ref} not in {plain(run)}")


def full_hash(k: Kernel, ref: str) -> str:
    """The full HEAD hash of `ref`: SHOW LOG's first commit."""
    run = k.ok(f"SHOW LOG {ref} LIMIT 1")
    short = cell(run, 0, 0)
    assert len(short) >= 8, plain(run)
    return short


def test_tables_on_other_references_commits_and_times(nessie_kernel: Kernel) -> None:
    import time
    from datetime import datetime, timezone

    k, s, dev = nessie_kernel, ns(), "dev_" + uuid.uuid4().hex[:8]
    k.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (x BIGINT); INSERT INTO {s}.t VALUES (1)")
    first = full_hash(k, "main")
    time.sleep(0.3)
    between = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    time.sleep(0.3)
    k.ok(f"CREATE BRANCH {dev} FROM main")
    # Write on dev through the table name while the session stays on main.
    run = k.ok(f"INSERT INTO {s}.`t@{dev}` VALUES (2), (3)")
    assert "Inserted 2 rows" in run.stdout, run.stdout
    assert cell(k.ok(f"SELECT count(*) FROM {s}.t")) == "1"
    assert cell(k.ok(f"SELECT count(*) FROM {s}.`t@{dev}`")) == "3"
    assert cell(k.ok(f'SELECT count(*) FROM {s}."t@{dev}"')) == "3"
    run = k.ok(f"SELECT m.x FROM {s}.t m JOIN {s}.`t@{dev}` d ON m.x = d.x")
    assert cell(run) == "1" and "ref main" in plain(run)
    k.ok(f"INSERT INTO {s}.t VALUES (10)")
    # At a commit (hash) and at a time, on main.
    assert cell(k.ok(f"SELECT count(*) FROM {s}.`t#{first}`")) == "1"
    assert cell(k.ok(f"SELECT count(*) FROM {s}.`t@main#{between}`")) == "1"
    assert cell(k.ok(f"SELECT count(*) FROM {s}.t")) == "2"
    # A pinned commit is read-only, and says so.
    run = k.execute(f"INSERT INTO {s}.`t#{first}` VALUES (4)")
    assert run.status == "error" and "read-only" in run.error["evalue"], run.error
    # Unknown references name what exists.
    run = k.execute(f"SELECT * FROM {s}.`t@no_such_branch`")
    assert run.status == "error" and "main" in run.error["evalue"], run.error
    run = k.execute(f"SELECT * FROM {s}.`t#yesterday`")
    assert run.status == "error" and "timestamp" in run.error["evalue"], run.error
    # USE REFERENCE ... AT TIMESTAMP pins the commit that was HEAD then.
    run = k.ok(f"USE REFERENCE main AT TIMESTAMP '{between}'")
    assert "read-only" in run.stdout and first[:12] in run.stdout, run.stdout
    run = k.ok(f"SELECT count(*) FROM {s}.t")
    assert cell(run) == "1" and f"ref main@{first}" in plain(run), plain(run)
    run = k.execute(f"INSERT INTO {s}.t VALUES (5)")
    assert run.status == "error" and "read-only" in run.error["evalue"], run.error
    k.ok(f"USE REFERENCE main AT '{first}'")
    assert cell(k.ok(f"SELECT count(*) FROM {s}.t")) == "1"
    k.ok("USE REFERENCE main")
    assert cell(k.ok(f"SELECT count(*) FROM {s}.t")) == "2"
    k.ok(f"DROP BRANCH {dev}")


def test_snapshot_time_travel_on_nessie(nessie_kernel: Kernel) -> None:
    k, s = nessie_kernel, ns()
    k.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (x BIGINT); INSERT INTO {s}.t VALUES (1)")
    k.ok(f"INSERT INTO {s}.t VALUES (2), (3)")
    run = k.ok(f"SELECT snapshot_id FROM {s}.`t$snapshots` ORDER BY committed_at")
    first = cell(run, 0)
    assert cell(k.ok(f"SELECT count(*) FROM {s}.t VERSION AS OF {first}")) == "1"
    assert cell(k.ok(f"SELECT count(*) FROM {s}.t FOR SYSTEM_TIME AS OF '2999-01-01'")) == "3"


def test_two_kernels_appending_at_once(tmp_path: Path, lakehouse_env: dict[str, str]) -> None:
    env = {k: v for k, v in lakehouse_env.items() if not k.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))}
    a = Kernel(tmp_path / "a", **env)
    b = Kernel(tmp_path / "b", **env)
    s = ns()
    try:
        a.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (who STRING, i BIGINT)")
        errors = append_concurrently({"a": a, "b": b}, f"{s}.t", 20)
        assert errors == [], errors
        run = a.ok(f"SELECT count(*) AS n, count(DISTINCT who || CAST(i AS VARCHAR)) AS d FROM {s}.t")
        assert (cell(run, 0, 0), cell(run, 0, 1)) == ("40", "40"), plain(run)
        run = b.ok(f"SELECT who, count(*) AS n FROM {s}.t GROUP BY who ORDER BY who")
        assert (cell(run, 0, 1), cell(run, 1, 1)) == ("20", "20"), plain(run)
    finally:
        a.close()
        b.close()


def test_merge_conflict_names_the_table_and_leaves_the_target(nessie_kernel: Kernel) -> None:
    k, s, dev = nessie_kernel, ns(), "dev_" + uuid.uuid4().hex[:8]
    k.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (x BIGINT); INSERT INTO {s}.t VALUES (1)")
    k.ok(f"CREATE BRANCH {dev} FROM main")
    k.ok(f"INSERT INTO {s}.`t@{dev}` VALUES (2)")
    k.ok(f"INSERT INTO {s}.t VALUES (3)")
    before = full_hash(k, "main")
    run = k.execute(f"MERGE BRANCH {dev} INTO main")
    assert run.status == "error", run.describe()
    evalue = run.error["evalue"]
    assert f"{s}.t" in evalue and "conflict" in evalue and "unchanged" in evalue, evalue
    assert full_hash(k, "main") == before
    run = k.ok(f"SELECT x FROM {s}.t ORDER BY x")
    assert [cell(run, 0), cell(run, 1)] == ["1", "3"], plain(run)
    k.ok(f"DROP BRANCH {dev}")


def test_nessie_with_a_local_warehouse(tmp_path: Path, lakehouse_env: dict[str, str]) -> None:
    warehouse = tmp_path / "warehouse"
    env = {k: v for k, v in lakehouse_env.items() if k.startswith("NESSIE_") and k not in ("NESSIE_ICEBERG_URI", "NESSIE_WAREHOUSE")}
    k = Kernel(tmp_path / "home", LAKEHOUSE_WAREHOUSE=str(warehouse), **env)
    s = ns()
    try:
        k.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (x BIGINT, y STRING)")
        k.ok(f"INSERT INTO {s}.t VALUES (1, 'a'), (2, 'b')")
        run = k.ok(f"SELECT sum(x) AS total FROM {s}.t")
        assert cell(run) == "3", plain(run)
        files = [p.name for p in warehouse.rglob("*")]
        assert any(f.endswith(".parquet") for f in files), files
        assert any(f.endswith(".metadata.json") for f in files), files
        k.ok(f"DROP TABLE {s}.t")
        run = k.execute(f"SELECT * FROM {s}.t")
        assert run.status == "error" and run.error["ename"] == "TableNotFound"
    finally:
        k.close()
