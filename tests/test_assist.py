"""Completion and inspection through the real kernel (issue 6).

complete_request by context (tables after FROM/JOIN/..., `schema.` → its tables, `alias.` →
columns, columns + functions in expressions, magics, branch and tag names on Nessie) with the
kinds in `_jupyter_types_experimental`, and inspect_request on tables, columns, functions and
branches. `|` in the code below marks the cursor.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from conftest import Kernel

pytest_plugins = ["services.conftest_fixtures"]

KINDS = {"keyword", "function", "table", "column", "schema", "catalog", "branch", "tag", "magic"}

SETUP = """CREATE SCHEMA IF NOT EXISTS demo;
CREATE TABLE IF NOT EXISTS demo.events (customer_id STRING, event_type STRING, ts TIMESTAMP, amount DOUBLE);
CREATE TABLE IF NOT EXISTS demo.customers (id STRING, "Name" STRING, country STRING);
INSERT INTO demo.events VALUES ('c1', 'purchase', TIMESTAMP '2025-01-16 10:00:00', 12.5),
                               ('c2', 'view', TIMESTAMP '2025-01-16 11:00:00', NULL);"""

EVENTS_COLUMNS = ["customer_id", "event_type", "ts", "amount"]


def complete(kernel: Kernel, marked: str) -> dict:
    """complete_reply content for `marked` with the cursor at `|`; checks the reply's shape."""
    cursor = marked.index("|")
    code = marked.replace("|", "", 1)
    reply, _ = kernel.request("complete_request", {"code": code, "cursor_pos": cursor})
    c = reply["content"]
    assert c["status"] == "ok", c
    assert 0 <= c["cursor_start"] <= cursor <= c["cursor_end"] <= len(code), c
    types = c["metadata"]["_jupyter_types_experimental"]
    assert [t["text"] for t in types] == c["matches"], c
    assert all(t["type"] in KINDS for t in types), types
    assert all((t["start"], t["end"]) == (c["cursor_start"], c["cursor_end"]) for t in types), types
    c["kinds"] = {t["text"]: t["type"] for t in types}
    c["code"] = code
    return c


def complete_until(kernel: Kernel, marked: str, ok, tries: int = 5) -> dict:
    """Completes until `ok(content)`: a table's columns may arrive one completion later
    (a completion waits only briefly for facts it has never fetched)."""
    for _ in range(tries):
        c = complete(kernel, marked)
        if ok(c):
            return c
        time.sleep(0.2)
    raise AssertionError(f"{marked!r}: {c}")


def applied(c: dict) -> list[str]:
    code = c["code"]
    return [code[: c["cursor_start"]] + m + code[c["cursor_end"] :] for m in c["matches"]]


def inspect(kernel: Kernel, marked: str) -> dict:
    cursor = marked.index("|")
    code = marked.replace("|", "", 1)
    reply, _ = kernel.request("inspect_request", {"code": code, "cursor_pos": cursor, "detail_level": 0})
    c = reply["content"]
    assert c["status"] == "ok", c
    return c


@pytest.fixture
def demo(kernel: Kernel) -> Kernel:
    kernel.ok(SETUP)
    return kernel


# -- completion -------------------------------------------------------------------------------


def test_schemas_and_tables_after_from(demo):
    c = complete(demo, "SELECT * FROM de|")
    assert c["kinds"].get("demo") == "schema", c
    assert c["cursor_start"] == len("SELECT * FROM ")
    c = complete(demo, "SELECT * FROM demo.|")
    assert {"events", "customers"} <= set(c["matches"]), c
    assert c["kinds"]["events"] == "table"
    assert c["cursor_start"] == c["cursor_end"] == len("SELECT * FROM demo.")
    c = complete(demo, "SELECT * FROM demo.ev|")
    assert applied(c) == ["SELECT * FROM demo.events"], c
    c = complete(demo, "SELECT * FROM lakehouse.|")
    assert c["kinds"].get("demo") == "schema", c
    # The other table positions.
    for marked, want in [
        ("SELECT * FROM demo.events e JOIN demo.cu|", "customers"),
        ("INSERT INTO demo.ev|", "events"),
        ("DESCRIBE demo.cu|", "customers"),
        ("UPDATE demo.ev|", "events"),
        ("DROP TABLE IF EXISTS demo.cu|", "customers"),
        ("SELECT * FROM demo.events, demo.c|", "customers"),
    ]:
        c = complete(demo, marked)
        assert c["matches"] == [want], (marked, c)
    # Keywords are not tables.
    c = complete(demo, "SELECT * FROM se|")
    assert "SELECT" not in c["matches"] and "select" not in c["matches"], c


def test_alias_and_table_name_give_columns(demo):
    c = complete_until(demo, "SELECT e.| FROM demo.events e", lambda c: c["matches"])
    assert c["matches"] == EVENTS_COLUMNS, c
    assert set(c["kinds"].values()) == {"column"}
    assert c["cursor_start"] == len("SELECT e.")
    c = complete(demo, "SELECT c.co| FROM demo.customers AS c JOIN demo.events e ON c.id = e.customer_id")
    assert c["matches"] == ["country"], c
    c = complete(demo, "SELECT e.am|, c.id FROM demo.customers AS c JOIN demo.events e ON c.id = e.customer_id")
    assert c["matches"] == ["amount"], c
    # The table's own name works as a qualifier too, and so does schema.table.
    c = complete(demo, "SELECT events.ev| FROM demo.events")
    assert c["matches"] == ["event_type"], c
    c = complete(demo, "SELECT demo.events.ts| FROM demo.events")
    assert c["matches"] == ["ts"], c
    # A name that needs quotes comes quoted.
    c = complete(demo, "SELECT c.na| FROM demo.customers c")
    assert applied(c) == ['SELECT c."Name" FROM demo.customers c'], c


def test_columns_and_functions_in_expressions(demo):
    have_columns = lambda c: "amount" in c["matches"]  # noqa: E731
    c = complete_until(demo, "SELECT am| FROM demo.events", have_columns)
    assert c["matches"][0] == "amount" and c["kinds"]["amount"] == "column", c
    for marked, want in [
        ("SELECT * FROM demo.events WHERE cust|", "customer_id"),
        ("SELECT count(*) FROM demo.events GROUP BY event|", "event_type"),
        ("SELECT * FROM demo.events ORDER BY am|", "amount"),
        ("SELECT * FROM demo.events e WHERE e.amount > 1 AND t|", "ts"),
    ]:
        c = complete_until(demo, marked, lambda c, w=want: w in c["matches"])
        assert c["kinds"][want] == "column", (marked, c)
    # Functions (DataFusion's registry) and keywords alongside.
    c = complete(demo, "SELECT a| FROM demo.events")
    assert c["kinds"].get("abs") == "function" and c["kinds"].get("avg") == "function", c
    assert c["kinds"].get("and") == "keyword", c
    c = complete(demo, "SELECT coun|")
    assert c["kinds"].get("count") == "function", c
    c = complete(demo, "SELECT row_nu|")
    assert c["matches"] == ["row_number"] and c["kinds"]["row_number"] == "function", c
    c = complete(demo, "SEL|")
    assert c["matches"][0] == "SELECT" and c["kinds"]["SELECT"] == "keyword", c
    # Without a FROM clause there are no columns.
    c = complete(demo, "SELECT cust|")
    assert "customer_id" not in c["matches"], c


def test_nothing_inside_strings_and_comments(demo):
    for marked in ["SELECT * FROM demo.events WHERE event_type = 'pur|", "SELECT 1 -- FROM de|"]:
        c = complete(demo, marked)
        assert c["matches"] == [], (marked, c)


def test_quoted_names(demo):
    demo.ok('CREATE TABLE demo."MixedCase" (x INT)')
    c = complete(demo, 'SELECT * FROM demo."Mi|')
    assert applied(c) == ['SELECT * FROM demo."MixedCase"'], c
    assert c["cursor_start"] == len("SELECT * FROM demo.")
    # An editor that closed the quote already: the closing quote is replaced, not doubled.
    c = complete(demo, 'SELECT * FROM demo."Mi|"')
    assert applied(c) == ['SELECT * FROM demo."MixedCase"'], c
    # Unquoted, the name comes quoted (DataFusion would lower-case it otherwise).
    c = complete(demo, "SELECT * FROM demo.mi|")
    assert applied(c) == ['SELECT * FROM demo."MixedCase"'], c


def test_magics(demo):
    c = complete(demo, "%%s|")
    assert c["matches"] == ["%%sql"] and c["kinds"]["%%sql"] == "magic", c
    assert c["cursor_start"] == 0
    c = complete(demo, "%%sql --ch|\nSELECT 1")
    assert c["matches"] == ["--chart"], c
    c = complete(demo, "%%sql --chart |\nSELECT 1")
    assert {"bar", "line", "histogram"} <= set(c["matches"]), c
    c = complete_until(demo, "%%sql --chart bar --x |\nSELECT * FROM demo.events", lambda c: c["matches"])
    assert c["matches"] == EVENTS_COLUMNS, c
    # Below the magic line the cell is SQL as usual.
    c = complete(demo, "%%sql --chart bar\nSELECT * FROM demo.ev|")
    assert c["matches"] == ["events"], c


def test_new_table_is_completed_in_the_same_session(demo):
    # Fill the cache first, so the test shows that DDL invalidates it.
    assert complete(demo, "SELECT * FROM demo.|")["matches"]
    name = "fresh_" + uuid.uuid4().hex[:6]
    demo.ok(f"CREATE TABLE demo.{name} (fresh_col BIGINT)")
    c = complete(demo, "SELECT * FROM demo.fr|")
    assert c["matches"] == [name], c
    c = complete_until(demo, f"SELECT f.fr| FROM demo.{name} f", lambda c: c["matches"])
    assert c["matches"] == ["fresh_col"], c
    demo.ok(f"DROP TABLE demo.{name}")
    c = complete(demo, "SELECT * FROM demo.fr|")
    assert c["matches"] == [], c
    # Views of the session too.
    demo.ok("CREATE VIEW demo.big AS SELECT customer_id, amount FROM demo.events WHERE amount > 10")
    c = complete(demo, "SELECT * FROM demo.bi|")
    assert c["matches"] == ["big"], c
    c = complete(demo, "SELECT b.| FROM demo.big b")
    assert c["matches"] == ["customer_id", "amount"], c


def test_tables_of_another_kernel_appear_within_seconds(start_kernel, tmp_path):
    # Completion answers from its cache and refreshes it in the background every few seconds.
    home = tmp_path / "shared-home"
    a, b = start_kernel(home), start_kernel(home)
    a.ok("CREATE SCHEMA IF NOT EXISTS demo")
    assert complete(a, "SELECT * FROM demo.|")["matches"] == []
    b.ok("CREATE TABLE demo.from_b (x INT)")
    started = time.monotonic()
    while time.monotonic() - started < 20:
        if complete(a, "SELECT * FROM demo.|")["matches"] == ["from_b"]:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("a table created by another kernel never showed up")
    c = complete_until(a, "SELECT t.| FROM demo.from_b t", lambda c: c["matches"])
    assert c["matches"] == ["x"], c


def test_is_complete_reads_the_magic_line(kernel):
    for code, status in [("%%sql --chart bar\nSELECT 1;", "complete"), ("%%sql\nSELECT 1", "incomplete")]:
        reply, _ = kernel.request("is_complete_request", {"code": code})
        assert reply["content"]["status"] == status, (code, reply["content"])


# -- inspection -------------------------------------------------------------------------------


def test_inspect_table(demo):
    c = inspect(demo, "SELECT * FROM demo.ev|ents")
    assert c["found"], c
    plain, markdown = c["data"]["text/plain"], c["data"]["text/markdown"]
    assert plain.startswith("table demo.events"), plain
    for want in EVENTS_COLUMNS + ["string", "double", "timestamp", "partitioned by: unpartitioned", "current snapshot: ",
                                 "rows: 2", "data files: 1", "location: ", "properties:"]:
        assert want in plain, (want, plain)
    assert "| amount | `double` |" in markdown, markdown
    # Through an alias, and on the schema part of the name.
    c = inspect(demo, "SELECT e|.amount FROM demo.events e")
    assert c["found"] and c["data"]["text/plain"].startswith("table demo.events"), c
    c = inspect(demo, "SELECT * FROM de|mo.events")
    assert c["data"]["text/plain"].startswith("table demo.events"), c


def test_inspect_column_and_function(demo):
    c = inspect(demo, "SELECT e.amo|unt FROM demo.events e")
    assert c["found"] and c["data"]["text/plain"] == "column amount: double (of demo.events)", c
    c = inspect(demo, "SELECT cou|nt(*) FROM demo.events")
    assert c["found"], c
    plain = c["data"]["text/plain"]
    assert plain.startswith("count: aggregate function"), plain
    assert "count(" in plain and "Arguments:" in plain, plain
    assert "```sql" in c["data"]["text/markdown"], c
    c = inspect(demo, "SELECT date_tr|unc('day', ts) FROM demo.events")
    assert c["data"]["text/plain"].startswith("date_trunc: scalar function"), c
    c = inspect(demo, "SELECT 1 + zzz_unknown|")
    assert c["found"] is False


# -- Nessie: branches and tags ----------------------------------------------------------------


@pytest.fixture()
def nessie_kernel(tmp_path: Path, lakehouse_env: dict[str, str]):
    env = {k: v for k, v in lakehouse_env.items() if not k.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))}
    k = Kernel(tmp_path / "home", **env)
    yield k
    k.close()


def test_branches_and_tags_on_nessie(nessie_kernel: Kernel):
    k = nessie_kernel
    s = "a" + uuid.uuid4().hex[:8]
    # Names no other test's branch starts like (the Nessie server is shared by the session).
    dev, tag = "assist_dev_" + uuid.uuid4().hex[:8], "assist_tag_" + uuid.uuid4().hex[:8]
    k.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (x BIGINT); INSERT INTO {s}.t VALUES (1)")
    k.ok(f"CREATE BRANCH {dev} FROM main; CREATE TAG {tag} FROM main")
    for marked in [
        f"USE REFERENCE {dev[:-2]}|",
        f"USE BRANCH {dev[:-2]}|",
        f"MERGE BRANCH {dev[:-2]}|",
        f"MERGE BRANCH x INTO {dev[:-2]}|",
        f"DROP BRANCH {dev[:-2]}|",
        f"ASSIGN BRANCH x TO {dev[:-2]}|",
        f"SHOW LOG {dev[:-2]}|",
        f"CREATE BRANCH x FROM {dev[:-2]}|",
    ]:
        c = complete(k, marked)
        assert c["matches"] == [dev] and c["kinds"][dev] == "branch", (marked, c)
    c = complete(k, "USE REFERENCE |")
    assert c["kinds"].get("main") == "branch" and c["kinds"].get(tag) == "tag", c
    c = complete(k, f"DROP TAG IF EXISTS {tag[:-2]}|")
    assert c["matches"] == [tag], c
    # Tables and columns come from the session's reference: a table created on dev is
    # completed on dev, and no longer once the session is back on main.
    k.ok(f"USE REFERENCE {dev}")
    k.ok(f"CREATE TABLE {s}.only_on_dev (y BIGINT)")
    c = complete(k, f"SELECT * FROM {s}.o|")
    assert c["matches"] == ["only_on_dev"], c
    k.ok("USE REFERENCE main")
    c = complete(k, f"SELECT * FROM {s}.|")
    assert c["matches"] == ["t"], c
    c = complete_until(k, f"SELECT t.| FROM {s}.t", lambda c: c["matches"])
    assert c["matches"] == ["x"], c
    # Inspecting a branch: hash and last commit.
    c = inspect(k, f"USE REFERENCE {dev}|")
    assert c["found"], c
    plain = c["data"]["text/plain"]
    assert plain.startswith(f"branch {dev}\nhash: "), plain
    assert "last commit: " in plain and f"CREATE TABLE {s}.only_on_dev" in plain, plain
    assert "**branch" in c["data"]["text/markdown"], c
    c = inspect(k, f"SHOW LOG {tag}|")
    assert c["data"]["text/plain"].startswith(f"tag {tag}"), c
    c = inspect(k, "SELECT * FROM main|")
    assert c["found"] is False or "branch main" in c["data"]["text/plain"], c
