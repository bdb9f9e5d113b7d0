"""Hostile and unlucky input through the real kernel (issue 20, SQL and catalog part).

* names that would leave the warehouse or enter another table's folder are refused, on the
  embedded catalog and on Nessie with the warehouse on S3 (no file or object outside the
  table's own folder or prefix);
* deep and wide generated expressions end in a result or a clean error, and the kernel and
  its session survive (a stack overflow would abort the process);
* Shift+Tab markdown stays inert when names and table properties hold backticks and tags;
* no credential reaches the kernel's stderr at any log level, with reachable and unreachable
  services.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import KERNEL_NAME, Kernel, kernel_env

pytest_plugins = ["services.conftest_fixtures"]


def ns() -> str:
    return "h" + uuid.uuid4().hex[:10]


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# -- names that escape the warehouse ---------------------------------------------------------

HOSTILE_NAMES = [
    "CREATE TABLE {s}.`../../../../trav-escape-table` (a INT)",
    "CREATE TABLE {s}.`../../../../trav-escape-ctas` AS SELECT 1 AS a",
    "CREATE TABLE {s}.`../{victim}/t` (a INT)",
    "CREATE TABLE {s}.`../{victim}/t` AS SELECT 2 AS a",
    "CREATE OR REPLACE TABLE {s}.`..` (a INT)",
    "CREATE SCHEMA `../../x`",
    "CREATE SCHEMA IF NOT EXISTS `a/b`",
]


def refuse_all(k: Kernel, s: str, victim: str) -> None:
    for sql in HOSTILE_NAMES:
        run = k.execute(sql.format(s=s, victim=victim))
        assert run.status == "error", sql
        err = run.error
        assert err["ename"] == "NameError", (sql, err)
        assert "may not be empty, '.' or '..', nor contain '/'" in err["evalue"], (sql, err["evalue"])


def test_names_cannot_leave_the_embedded_warehouse(kernel_binary, tmp_path: Path) -> None:  # noqa: ARG001
    # The warehouse three folders down: `../../../..` from a schema folder lands in tmp_path.
    home = tmp_path / "a" / "b" / "home"
    k = Kernel(home)
    try:
        k.ok("CREATE SCHEMA trav; CREATE SCHEMA victim; CREATE TABLE victim.t (a INT); INSERT INTO victim.t VALUES (1)")
        before = files_under(tmp_path)
        refuse_all(k, "trav", "victim")
        assert files_under(tmp_path) == before
        run = k.ok("SELECT a FROM victim.t")
        assert "1" in run.results[-1]["text/plain"]
        k.ok("CREATE TABLE trav.victim_t (a INT); INSERT INTO trav.victim_t VALUES (5)")
        for f in files_under(home):
            assert f == "catalog.db" or f.startswith(("warehouse/victim/t/", "warehouse/trav/victim_t/")), f
    finally:
        k.close()
    assert not (tmp_path / "trav-escape-table").exists()


def test_names_cannot_leave_their_prefix_on_nessie_and_s3(tmp_path: Path, lakehouse_env, s3_server) -> None:
    env = {k: v for k, v in lakehouse_env.items() if not k.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))}
    k = Kernel(tmp_path / "home", **env)
    s, victim = ns(), ns()
    try:
        k.ok(f"CREATE SCHEMA {s}; CREATE SCHEMA {victim}; CREATE TABLE {victim}.t (a INT); INSERT INTO {victim}.t VALUES (1)")
        client = s3_server.client()
        before = client.list_keys(s3_server.bucket)
        refuse_all(k, s, victim)
        after = client.list_keys(s3_server.bucket)
        assert after == before, sorted(set(after) - set(before))
        # A proper name lands under its own prefix only.
        k.ok(f"CREATE TABLE {s}.ok (a INT); INSERT INTO {s}.ok VALUES (2)")
        new = set(client.list_keys(s3_server.bucket)) - set(before)
        assert new and all(key.startswith(f"warehouse/{s}/ok_") for key in new), sorted(new)
    finally:
        k.close()


def test_quoted_schema_with_dots(kernel: Kernel) -> None:
    run = kernel.ok("CREATE SCHEMA `a.b`")
    assert "Created schema a.b" in run.stdout, run.stdout
    # The session carries on (before, every later statement failed listing the catalog) and a
    # table can be created in it; reading tables of nested schemas back is not supported yet.
    run = kernel.ok("CREATE TABLE `a.b`.t (x INT); SHOW SCHEMAS; SELECT 1")
    assert "Created table a.b.t" in run.stdout, run.stdout


# -- deep and wide expressions ---------------------------------------------------------------


def chain(op: str, n: int) -> str:
    return f" {op} ".join(f"value = {i}" for i in range(n))


CORPUS = [
    # (name, SQL, expected: "ok" or the error's ename)
    ("or_5000", f"SELECT count(*) FROM range(100) WHERE {chain('OR', 5000)}", "ok"),
    ("or_9999", f"SELECT count(*) FROM range(100) WHERE {chain('OR', 9999)}", "ok"),  # the deepest allowed
    ("or_50000", f"SELECT count(*) FROM range(100) WHERE {chain('OR', 50000)}", "StatementTooComplex"),
    ("and_5000", f"SELECT count(*) FROM range(100) WHERE {chain('AND', 5000)}", "ok"),
    ("and_50000", f"SELECT count(*) FROM range(100) WHERE {chain('AND', 50000)}", "StatementTooComplex"),
    # Sums plan in quadratic time (a 9,999-term one takes about 100 s): 5,000 terms, as generated.
    ("sum_5000", "SELECT " + " + ".join(["value"] * 5000) + " AS s FROM range(3)", "ok"),
    ("sum_50000", "SELECT " + " + ".join(["1"] * 50000) + " AS s", "StatementTooComplex"),
    ("mixed_arith_2000", "SELECT " + " - ".join(f"value * {i}" for i in range(1000)) + " AS s FROM range(3)", "ok"),
    ("concat_2000", "SELECT " + " || ".join(["'a'"] * 2000) + " AS s", "ok"),
    ("case_5000", "SELECT CASE " + " ".join(f"WHEN value = {i} THEN {i}" for i in range(5000)) + " ELSE -1 END AS c FROM range(10)", "ok"),
    ("nested_calls_1000", "SELECT " + "abs(" * 1000 + "1" + ")" * 1000, "SyntaxError"),
    ("nested_parens_10000", "SELECT " + "(" * 10000 + "1" + ")" * 10000, "SyntaxError"),
    ("in_100000", "SELECT count(*) FROM range(1000) WHERE value IN (" + ",".join(str(i) for i in range(100000)) + ")", "ok"),
    ("not_in_100000", "SELECT count(*) FROM range(1000) WHERE value NOT IN (" + ",".join(str(i) for i in range(0, 200000, 2)) + ")", "ok"),
    ("in_1000000", "SELECT count(*) FROM range(1000) WHERE value IN (" + ",".join(str(i) for i in range(1000000)) + ")", "ok"),
]


def test_deep_and_wide_expressions_end_in_a_result_or_a_clean_error(kernel: Kernel) -> None:
    kernel.ok("SET survivor = 42; CREATE VIEW kept AS SELECT 1 AS one")
    outcomes = {}
    for name, sql, expected in CORPUS:
        started = time.monotonic()
        run = kernel.execute(sql, timeout=300)
        took = time.monotonic() - started
        got = "ok" if run.status == "ok" else run.error["ename"]
        outcomes[name] = (got, round(took, 1))
        assert kernel.km.is_alive(), f"{name} killed the kernel"
        assert got == expected, (name, run.describe())
        if got == "StatementTooComplex":
            assert "10000 levels" in run.error["evalue"], run.error["evalue"]
        # is_complete parses on the socket thread: it must survive the same input.
        reply, _ = kernel.request("is_complete_request", {"code": sql + ";"}, timeout=120)
        assert reply["content"]["status"] in ("complete", "invalid"), (name, reply["content"])
    print(outcomes)
    run = kernel.ok("SELECT $survivor AS p, one FROM kept")
    assert "42" in run.results[-1]["text/plain"]
    kernel.assert_alive()


# -- inspection markdown -----------------------------------------------------------------------

PAYLOAD = "`<img src=x onerror=alert(1)>"


def test_inspection_markdown_is_inert(kernel: Kernel) -> None:
    mistune = pytest.importorskip("mistune")
    hostile_col = "c" + PAYLOAD.replace("`", "``")
    kernel.ok(
        "CREATE SCHEMA demo; "
        f"CREATE TABLE demo.hostile (`{hostile_col}` INT, b STRING) TBLPROPERTIES "
        f"('note' = 'x{PAYLOAD}', 'k{PAYLOAD}' = 'v', 'ticks' = '``{PAYLOAD}```', 'nl' = 'a\n\n<img src=y onerror=alert(2)>')"
    )
    for marked in ["SELECT * FROM demo.host|ile", "SELECT h.b| FROM demo.hostile h"]:
        cursor = marked.index("|")
        code = marked.replace("|", "", 1)
        reply, _ = kernel.request("inspect_request", {"code": code, "cursor_pos": cursor, "detail_level": 0})
        c = reply["content"]
        assert c["status"] == "ok" and c["found"], c
        markdown = c["data"]["text/markdown"]
        html = mistune.html(markdown)
        assert "<img" not in html, (marked, markdown, html)
    # The table's view shows the payloads as text.
    reply, _ = kernel.request("inspect_request", {"code": "SELECT * FROM demo.hostile", "cursor_pos": 20, "detail_level": 0})
    html = mistune.html(reply["content"]["data"]["text/markdown"])
    assert html.count("onerror=alert(1)") >= 3, html
    assert "onerror=alert(2)" in html, html


# -- secrets in logs ---------------------------------------------------------------------------


@contextmanager
def logged_kernel(home: Path, log: Path, **env: str):
    """A kernel whose stderr and stdout go to `log`."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=KERNEL_NAME)
    with open(log, "wb") as out:
        km.start_kernel(env=kernel_env(home, **env), stderr=out, stdout=out)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


def run_cells(kc, cells: list[str], timeout: float = 120) -> list[str]:
    statuses = []
    for code in cells:
        reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda _m: None)
        statuses.append(reply["content"]["status"])
    return statuses


CANARY = "canary-" + uuid.uuid4().hex


def canaries(tag: str) -> dict[str, str]:
    """Credential settings whose values are unique, recognisable strings (with characters that
    logs escape or encode)."""
    return {
        "AWS_SECRET_ACCESS_KEY": f"{CANARY}-{tag}-secret/Key+1",
        "AWS_SESSION_TOKEN": f"{CANARY}-{tag}-session=token",
        "NESSIE_AUTHENTICATION_TOKEN": f"{CANARY}-{tag}-nessie",
        "LAKEHOUSE_REST_TOKEN": f"{CANARY}-{tag}-rest",
        "LAKEHOUSE_REST_CREDENTIAL": f"client-id:{CANARY}-{tag}-client-secret",
    }


def leaked(text: str, secrets: list[str]) -> list[str]:
    out = []
    for s in secrets:
        for form in {s, s.split(":", 1)[-1], s.replace("/", "%2F").replace("+", "%2B").replace("=", "%3D")}:
            if form in text:
                out.append(form)
    return out


@pytest.mark.parametrize("level", ["debug", "trace"])
def test_no_credential_in_the_log_with_reachable_services(tmp_path: Path, lakehouse_env, level: str) -> None:
    env = {k: v for k, v in lakehouse_env.items() if not k.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))}
    s = ns()
    cells = [f"CREATE SCHEMA {s}", f"CREATE TABLE {s}.t (a INT)", f"INSERT INTO {s}.t VALUES (1)", f"SELECT * FROM {s}.t"]
    # The real S3 secret (whose requests work) and a Nessie token (the test server ignores it).
    log = tmp_path / "real.log"
    real = dict(env, NESSIE_AUTHENTICATION_TOKEN=canaries("real")["NESSIE_AUTHENTICATION_TOKEN"], RUST_LOG=level)
    with logged_kernel(tmp_path / "h1", log, **real) as kc:
        assert run_cells(kc, cells) == ["ok"] * 4
    text = log.read_text(errors="replace")
    assert "StaticCredentialProvider" in text or "reqsign" in text, text[-2000:]
    assert "***" in text, "the credential records were not redacted (or not logged)"
    assert not leaked(text, [env["AWS_SECRET_ACCESS_KEY"], real["NESSIE_AUTHENTICATION_TOKEN"]])
    # Every credential a canary, on the same reachable servers (S3 refuses the signature).
    log = tmp_path / "canary.log"
    fake = canaries("fake")
    with logged_kernel(tmp_path / "h2", log, **dict(env, **fake, RUST_LOG=level)) as kc:
        run_cells(kc, [f"CREATE SCHEMA {ns()}", f"CREATE TABLE {s}.u (a INT)", f"SELECT * FROM {s}.t"])
    text = log.read_text(errors="replace")
    assert len(text) > 1000, text
    assert not leaked(text, list(fake.values()))


@pytest.mark.parametrize("level", ["debug", "trace"])
def test_no_credential_in_the_log_with_unreachable_services(kernel_binary, tmp_path: Path, level: str) -> None:  # noqa: ARG001
    secrets = canaries("down")
    down = "http://127.0.0.1:9"
    common = dict(secrets, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_REGION="us-east-1", AWS_ENDPOINT_URL=down, RUST_LOG=level)
    setups = {
        "nessie": dict(common, NESSIE_URI=f"{down}/api/v2", LAKEHOUSE_WAREHOUSE="s3://bucket/wh"),
        "rest": dict(common, LAKEHOUSE_CATALOG="rest", LAKEHOUSE_REST_URI=f"{down}/iceberg"),
        "embedded-s3": dict(common, LAKEHOUSE_WAREHOUSE="s3://bucket/wh"),
    }
    for name, env in setups.items():
        log = tmp_path / f"{name}.log"
        with logged_kernel(tmp_path / name, log, **env) as kc:
            statuses = run_cells(kc, ["CREATE SCHEMA x", "CREATE TABLE x.t (a INT)", "SHOW TABLES"], timeout=180)
            assert "error" in statuses, (name, statuses)
        text = log.read_text(errors="replace")
        assert not leaked(text, list(secrets.values())), (name, leaked(text, list(secrets.values())))
        assert os.path.getsize(log) > 0, name


# -- orphan files after a crash ----------------------------------------------------------------


def test_orphans_of_a_killed_write_are_found_and_removed(kernel_binary, tmp_path: Path) -> None:  # noqa: ARG001
    home = tmp_path / "home"
    data = home / "warehouse" / "crash" / "t" / "data"
    k = Kernel(home)
    try:
        k.ok("CREATE SCHEMA crash; CREATE TABLE crash.t (id BIGINT, pad STRING); INSERT INTO crash.t VALUES (1, 'a'), (2, 'b')")
        committed = set(data.rglob("*.parquet"))
        k.kc.execute("INSERT INTO crash.t SELECT value, repeat('x', 200) FROM range(30000000)")
        deadline = time.monotonic() + 60
        while not set(data.rglob("*.parquet")) - committed:
            assert time.monotonic() < deadline, "the write made no data file within 60 s"
            time.sleep(0.05)
        # SIGKILL: the write's files are there, its commit is not.
        os.kill(k.km.provisioner.process.pid, signal.SIGKILL)
        k.km.provisioner.process.wait(timeout=30)
    finally:
        k.close()
    stray = set(data.rglob("*.parquet")) - committed
    assert stray, "the killed write left no file to find"
    k = Kernel(home)
    try:
        k.ok("SET lakehouse.max_col_width = 100000")  # whole file paths in the listing
        run = k.ok("SELECT count(*) AS n FROM crash.t")
        assert "2" in run.results[-1]["text/plain"]
        since = "older_than => now() + INTERVAL '1 minute'"
        run = k.ok(f"CALL system.remove_orphan_files(table => 'crash.t', {since}, dry_run => true)")
        listed = run.results[-1]["text/plain"]
        for f in stray:
            assert f.name in listed, (f, listed)
        assert all(f.exists() for f in stray), "a dry run deleted files"
        run = k.ok(f"CALL system.remove_orphan_files(table => 'crash.t', {since})")
        assert not any(f.exists() for f in stray)
        assert all(f.exists() for f in committed), "a committed data file was removed"
        run = k.ok(f"CALL system.remove_orphan_files(table => 'crash.t', {since}, dry_run => true)")
        assert "Found 0 orphan files" in run.stdout, run.stdout
        run = k.ok("SELECT count(*) AS n, sum(id) AS s FROM crash.t")
        assert "2" in run.results[-1]["text/plain"] and "3" in run.results[-1]["text/plain"]
    finally:
        k.close()
