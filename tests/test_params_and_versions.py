"""Iceberg snapshot time travel on the embedded catalog, through a real jupyter_client.

Session parameters (`SET`, `$name`, `${name}`, ASSERT) are checked in
kernel/tests/slt/notebook_parameters.slt."""

from __future__ import annotations

import html as htmllib
import re
import time
from datetime import datetime, timezone


def cells(run) -> list[str]:
    html = run.results[-1]["text/html"]
    return [htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, flags=re.S)]


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
