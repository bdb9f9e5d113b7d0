"""The kernel core through jupyter_client: SQL round trips, errors, execute options, interrupt,
signatures and bad input. Every reply and iopub message is validated against the v5 schema
(see conftest.Kernel)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import datetime, timezone

import pytest
import zmq

ISSUE_CELL = """CREATE SCHEMA IF NOT EXISTS demo;
CREATE TABLE IF NOT EXISTS demo.events (customer_id STRING, event_type STRING, ts TIMESTAMP, amount DOUBLE);
INSERT INTO demo.events VALUES ('c1', 'purchase', TIMESTAMP '2025-01-16 10:00:00', 12.5);
SELECT event_type, count(*) AS n FROM demo.events GROUP BY event_type;"""

LONG_QUERY = "SELECT sum(value % 7) FROM range(1000000000000)"


def html_cells(html: str) -> list[str]:
    """Inner HTML of each <td> cell."""
    return re.findall(r"<td[^>]*>(.*?)</td>", html, flags=re.S)


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


# -- the issue's round trip ------------------------------------------------------------------


def test_issue_round_trip_gives_html_table(kernel):
    run = kernel.ok(ISSUE_CELL)
    assert "Created schema demo" in run.stdout, run.describe()
    assert "Created table demo.events" in run.stdout, run.describe()
    assert "Inserted 1 row into demo.events" in run.stdout, run.describe()

    results = run.of_type("execute_result")
    assert len(results) == 1, run.describe()
    result = results[0]["content"]
    assert result["execution_count"] == run.content["execution_count"]
    data = result["data"]
    assert "text/plain" in data and "text/html" in data
    html = data["text/html"]
    assert "<table" in html
    headers = [re.sub(r"<[^>]+>", " ", h).split() for h in re.findall(r"<th[^>]*>(.*?)</th>", html, flags=re.S)]
    assert [h[0] for h in headers] == ["event_type", "n"], headers
    assert [text_of(c).strip() for c in html_cells(html)] == ["purchase", "1"], html
    # column types in the header: event_type a string, count(*) a 64-bit integer
    assert re.search(r"utf8|string|varchar", " ".join(headers[0][1:]), re.I), headers
    assert re.search(r"int64|bigint", " ".join(headers[1][1:]), re.I), headers
    # an aligned text table
    plain = data["text/plain"]
    table = [line for line in plain.splitlines() if line.startswith(("+", "|"))]
    assert len(table) >= 5 and "purchase" in plain, plain
    assert len({len(line) for line in table}) == 1, f"text/plain table is not aligned:\n{plain}"


def test_html_escapes_values_and_names(kernel):
    run = kernel.ok("""SELECT '<b>&"x"</b>' AS "<col>";""")
    html = run.results[-1]["text/html"]
    assert "<b>&" not in html
    assert "&lt;b&gt;&amp;" in html
    assert "<col>" not in html and "&lt;col&gt;" in html


def test_null_differs_from_the_string_null(kernel):
    run = kernel.ok("SELECT CAST(NULL AS VARCHAR) AS v UNION ALL SELECT 'NULL' AS v ORDER BY v NULLS FIRST;")
    cells = html_cells(run.results[-1]["text/html"])
    assert len(cells) == 2, cells
    assert cells[0] != cells[1], f"NULL and 'NULL' render the same: {cells}"


def test_row_limit_notice(start_kernel, home):
    k = start_kernel(home, LAKEHOUSE_MAX_ROWS="5")
    run = k.ok("SELECT value FROM range(1000);")
    html = run.results[-1]["text/html"]
    assert len(html_cells(html)) == 5, html
    assert re.search(r"showing\s+5\s+of\s+1,?000\s+rows", text_of(html), re.I), html
    assert re.search(r"showing\s+5\s+of\s+1,?000\s+rows", run.results[-1]["text/plain"], re.I)


def test_config_file_and_env_precedence(start_kernel, tmp_path):
    config = tmp_path / "lakehouse.toml"
    config.write_text(f'home = "{tmp_path / "from-config"}"\nmax_rows = 3\n')
    k = start_kernel(tmp_path / "from-env", LAKEHOUSE_CONFIG=str(config))
    run = k.ok("SELECT value FROM range(10);")
    assert len(html_cells(run.results[-1]["text/html"])) == 3  # max_rows from the file
    k.ok("CREATE SCHEMA IF NOT EXISTS cfg; CREATE TABLE cfg.t (x INT);")
    assert (tmp_path / "from-env" / "catalog.db").exists()  # LAKEHOUSE_HOME wins over `home`
    assert not (tmp_path / "from-config").exists()
    k2 = start_kernel(tmp_path / "from-env", LAKEHOUSE_CONFIG=str(config), LAKEHOUSE_MAX_ROWS="4")
    run = k2.ok("SELECT value FROM range(10);")
    assert len(html_cells(run.results[-1]["text/html"])) == 4


def test_warehouse_setting(start_kernel, tmp_path):
    warehouse = tmp_path / "elsewhere"
    k = start_kernel(tmp_path / "home", LAKEHOUSE_WAREHOUSE=str(warehouse))
    k.ok("CREATE SCHEMA w; CREATE TABLE w.t (x INT); INSERT INTO w.t VALUES (1);")
    assert any(warehouse.rglob("*.parquet")), list(warehouse.rglob("*"))
    assert not any((tmp_path / "home").rglob("*.parquet"))


def test_million_rows_give_bounded_output(kernel):
    t0 = time.monotonic()
    run = kernel.ok("SELECT value, value * 2 AS twice FROM range(1000000);")
    elapsed = time.monotonic() - t0
    bundle = run.results[-1]
    assert len(bundle["text/html"]) < 100_000
    assert len(bundle["text/plain"]) < 100_000
    assert len(html_cells(bundle["text/html"])) == 2 * 50  # the default row limit
    assert elapsed < 10, f"1M-row round trip took {elapsed:.1f}s"


def test_table_survives_restart(kernel):
    kernel.ok(ISSUE_CELL)
    kernel.km.restart_kernel(now=False)
    kernel.kc.wait_for_ready(timeout=60)
    kernel.flush()
    run = kernel.ok("SELECT customer_id, amount FROM demo.events;")
    cells = [text_of(c).strip() for c in html_cells(run.results[-1]["text/html"])]
    assert cells == ["c1", "12.5"], cells


def test_table_survives_new_process(start_kernel, home):
    first = start_kernel(home)
    first.ok(ISSUE_CELL)
    first.close()
    second = start_kernel(home)
    run = second.ok("SHOW TABLES;")
    assert "events" in run.results[-1]["text/plain"]


# -- multi-statement cells (SHOW / DESCRIBE / EXPLAIN results: kernel/tests/slt/) --------------


def test_multi_statement_cell_runs_in_order(kernel):
    run = kernel.ok(
        "CREATE SCHEMA m; CREATE TABLE m.t (x INT, y STRING);"
        "INSERT INTO m.t VALUES (1, 'a'), (2, 'b'), (3, 'c');"
        "SELECT count(*) AS c FROM m.t; SELECT max(x) AS top FROM m.t;"
    )
    assert "Inserted 3 rows into m.t" in run.stdout, run.describe()
    kinds = [m["msg_type"] for m in run.outputs]
    assert kinds.count("display_data") == 1 and kinds.count("execute_result") == 1, kinds
    assert kinds[-1] == "execute_result", kinds
    assert kinds.index("display_data") < kinds.index("execute_result")
    first, last = run.results
    assert "c" in first["text/plain"] and "3" in first["text/plain"]
    assert "top" in last["text/plain"] and "3" in last["text/plain"]
    # stream output comes before the results of later statements
    assert kinds.index("stream") < kinds.index("display_data")


def test_error_midway_keeps_the_earlier_output(kernel):
    # That the cell stops at the error (the later INSERT does not run) is in kernel/tests/slt/errors.slt.
    kernel.ok("CREATE SCHEMA e; CREATE TABLE e.t (x INT);")
    run = kernel.execute("INSERT INTO e.t VALUES (1); SELECT * FROM e.missing; INSERT INTO e.t VALUES (2);")
    assert run.status == "error"
    assert "Inserted 1 row" in run.stdout


# -- errors ------------------------------------------------------------------------------------

DEBUG_DUMP = [re.compile(r"\b[A-Z]\w*\((\"|[A-Z]\w*\()"), re.compile(r"\b[A-Z]\w* \{ \w+:")]


def assert_error_shape(run, earlier_results=False):
    assert run.status == "error", run.describe()
    content = run.content
    err = run.error
    for c in (content, err):
        assert isinstance(c["ename"], str) and c["ename"]
        assert isinstance(c["evalue"], str) and c["evalue"]
        assert "\n" not in c["evalue"].strip(), f"evalue is not one line: {c['evalue']!r}"
        assert isinstance(c["traceback"], list) and all(isinstance(line, str) for line in c["traceback"])
    assert err["ename"] == content["ename"] and err["evalue"] == content["evalue"]
    for pattern in DEBUG_DUMP:
        assert not pattern.search(err["evalue"]), f"looks like a Rust debug dump: {err['evalue']!r}"
    if not earlier_results:
        assert run.of_type("execute_result") == [] and run.of_type("display_data") == []
    return err


def test_syntax_error_shows_line_and_caret(kernel):
    run = kernel.execute("SELECT 1;\nSELEC oops FROM t;")
    err = assert_error_shape(run, earlier_results=True)  # SELECT 1 may have run before
    lines = "\n".join(err["traceback"]).splitlines()
    at = [i for i, line in enumerate(lines) if "SELEC oops FROM t" in line]
    assert at, f"the offending line is not in the traceback: {lines}"
    after = lines[at[0] + 1] if at[0] + 1 < len(lines) else ""
    assert "^" in re.sub(r"\x1b\[[0-9;]*m", "", after), f"no caret under the offending line: {lines}"


def test_unknown_table_names_what_exists(kernel):
    kernel.ok("CREATE SCHEMA shop; CREATE TABLE shop.orders (id INT); CREATE TABLE shop.customers (id INT);")
    run = kernel.execute("SELECT * FROM shop.order;")
    err = assert_error_shape(run)
    assert re.fullmatch(r"[A-Z]\w*", err["ename"]), err["ename"]
    text = err["evalue"] + "\n" + "\n".join(err["traceback"])
    assert "shop.order" in text or "order" in text
    assert "orders" in text, f"the error does not name the existing table: {text}"


def test_error_in_execute_reply_and_count(kernel):
    before = kernel.ok("SELECT 1;").content["execution_count"]
    run = kernel.execute("SELECT * FROM nowhere;")
    assert_error_shape(run)
    assert run.content["execution_count"] == before + 1
    inputs = run.of_type("execute_input")
    assert len(inputs) == 1 and inputs[0]["content"]["execution_count"] == before + 1


# -- execute options ---------------------------------------------------------------------------


def test_stop_on_error_aborts_queued_requests(kernel):
    # The failing cell counts a few million rows first, so the second request is queued
    # behind it even when this process is descheduled between the two sends (a loaded CI).
    first = kernel.kc.execute("ASSERT (SELECT count(*) FROM range(30000000) WHERE value % 7 = 1) = 0, 'fails';")
    second = kernel.kc.execute("SELECT 1;")
    r1 = kernel.shell_reply(first)
    r2 = kernel.shell_reply(second)
    assert r1["content"]["status"] == "error"
    assert r2["content"]["status"] == "aborted", r2["content"]
    kernel.iopub_until_idle(first)
    kernel.iopub_until_idle(second)
    kernel.ok("SELECT 2;")  # later requests run again


def test_without_stop_on_error_queued_requests_run(kernel):
    first = kernel.kc.execute("SELECT * FROM nowhere;", stop_on_error=False)
    second = kernel.kc.execute("SELECT 1;")
    assert kernel.shell_reply(first)["content"]["status"] == "error"
    assert kernel.shell_reply(second)["content"]["status"] == "ok"


def test_silent_publishes_nothing_and_keeps_the_count(kernel):
    n = kernel.ok("SELECT 1;").content["execution_count"]
    run = kernel.execute("SELECT 2 AS two;", silent=True)
    assert run.status == "ok"
    assert [m["msg_type"] for m in run.iopub] == ["status", "status"], run.describe()
    assert kernel.ok("SELECT 3;").content["execution_count"] == n + 1


def test_store_history_false_keeps_the_count(kernel):
    n = kernel.ok("SELECT 1;").content["execution_count"]
    run = kernel.execute("SELECT 2 AS two;", store_history=False)
    assert run.status == "ok"
    assert run.results, "store_history=False still shows results"
    assert kernel.ok("SELECT 3;").content["execution_count"] == n + 1


def test_user_expressions_is_a_dict(kernel):
    run = kernel.ok("SELECT 1;")
    assert run.content["user_expressions"] == {}
    run = kernel.ok("SELECT 1;", user_expressions={"x": "SELECT 41 + 1"})
    exprs = run.content["user_expressions"]
    assert isinstance(exprs, dict) and set(exprs) == {"x"}, exprs
    assert exprs["x"]["status"] in ("ok", "error"), exprs


def test_execution_count_increments(kernel):
    a = kernel.ok("SELECT 1;").content["execution_count"]
    b = kernel.ok("SELECT 1;").content["execution_count"]
    assert b == a + 1


@pytest.mark.parametrize(
    "msg_type,content",
    [
        ("kernel_info_request", {}),
        ("execute_request", {"code": "SELECT 1;", "silent": False, "store_history": True,
                             "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}),
        ("complete_request", {"code": "SEL", "cursor_pos": 3}),
        ("inspect_request", {"code": "SELECT", "cursor_pos": 6, "detail_level": 0}),
        ("is_complete_request", {"code": "SELECT 1;"}),
        ("history_request", {"output": False, "raw": True, "hist_access_type": "tail", "n": 5}),
        ("comm_info_request", {}),
    ],
)
def test_busy_idle_around_every_request(kernel, msg_type, content):
    reply, iopub = kernel.request(msg_type, content)
    states = [m["content"]["execution_state"] for m in iopub if m["msg_type"] == "status"]
    assert iopub[0]["msg_type"] == "status" and states[0] == "busy", [m["msg_type"] for m in iopub]
    assert states[-1] == "idle" and states.count("busy") == 1 and states.count("idle") == 1, states
    if msg_type != "is_complete_request":  # its status is complete/incomplete/invalid/unknown
        assert reply["content"].get("status", "ok") == "ok", reply["content"]


def test_kernel_info_reply(kernel):
    reply, _ = kernel.request("kernel_info_request", {})
    c = reply["content"]
    assert c["protocol_version"].startswith("5.")
    assert c["implementation"] and c["implementation_version"]
    info = c["language_info"]
    assert info["name"] == "sql"
    for key in ("codemirror_mode", "pygments_lexer", "file_extension", "mimetype", "version"):
        assert info.get(key), f"language_info.{key} missing: {info}"
    assert c["banner"]
    assert isinstance(c.get("help_links"), list) and c["help_links"]


def test_comm_info_is_empty(kernel):
    reply, _ = kernel.request("comm_info_request", {})
    assert reply["content"]["comms"] == {}


# -- completion, inspection, is_complete, history ------------------------------------------------


def apply_completion(code, reply):
    c = reply["content"]
    return [code[: c["cursor_start"]] + m + code[c["cursor_end"] :] for m in c["matches"]]


def test_complete_table_and_schema_names(kernel):
    kernel.ok(ISSUE_CELL)
    code = "SELECT * FROM demo.ev"
    reply, _ = kernel.request("complete_request", {"code": code, "cursor_pos": len(code)})
    assert "SELECT * FROM demo.events" in apply_completion(code, reply), reply["content"]
    code = "SELECT * FROM dem"
    reply, _ = kernel.request("complete_request", {"code": code, "cursor_pos": len(code)})
    assert any(s.startswith("SELECT * FROM demo") for s in apply_completion(code, reply)), reply["content"]


def test_complete_functions_and_keywords(kernel):
    for code, want in [("SELECT coun", "SELECT count"), ("SEL", "SELECT"), ("SELECT 1 FR", "SELECT 1 FROM")]:
        reply, _ = kernel.request("complete_request", {"code": code, "cursor_pos": len(code)})
        got = apply_completion(code, reply)
        assert any(s.lower().startswith(want.lower()) for s in got), (code, reply["content"])


def test_complete_in_the_middle(kernel):
    code = "SELEC 1;"
    reply, _ = kernel.request("complete_request", {"code": code, "cursor_pos": 5})
    assert "SELECT 1;" in apply_completion(code, reply), reply["content"]


def test_inspect_table_gives_columns(kernel):
    kernel.ok(ISSUE_CELL)
    code = "SELECT * FROM demo.events"
    reply, _ = kernel.request("inspect_request", {"code": code, "cursor_pos": len(code) - 2, "detail_level": 0})
    c = reply["content"]
    assert c["status"] == "ok" and c["found"], c
    plain = c["data"]["text/plain"]
    for column in ("customer_id", "event_type", "ts", "amount"):
        assert column in plain, plain


def test_inspect_nothing_found(kernel):
    reply, _ = kernel.request("inspect_request", {"code": "SELECT 1 + zzz_unknown", "cursor_pos": 20, "detail_level": 0})
    assert reply["content"]["status"] == "ok" and reply["content"]["found"] is False


@pytest.mark.parametrize(
    "code,status",
    [("SELECT 1;", "complete"), ("", "complete"), ("SELECT 1", "incomplete"), ("SELECT 'x;", "incomplete"),
     ("SELECT (1;", "incomplete"), ("SELEC 1;", "invalid")],
)
def test_is_complete(kernel, code, status):
    reply, _ = kernel.request("is_complete_request", {"code": code})
    assert reply["content"]["status"] == status, (code, reply["content"])
    if status == "incomplete":
        assert isinstance(reply["content"].get("indent", ""), str)


def test_history_of_this_session(kernel):
    cells = ["SELECT 1 AS a;", "SELECT 2 AS b;", "SELECT 3 AS c;"]
    for cell in cells:
        kernel.ok(cell)
    reply, _ = kernel.request("history_request", {"output": False, "raw": True, "hist_access_type": "tail", "n": 2})
    hist = reply["content"]["history"]
    assert [h[2] for h in hist] == cells[1:], hist
    reply, _ = kernel.request(
        "history_request", {"output": False, "raw": True, "hist_access_type": "search", "pattern": "SELECT 2*", "n": 10}
    )
    assert [h[2] for h in reply["content"]["history"]] == ["SELECT 2 AS b;"]


# -- interrupt ---------------------------------------------------------------------------------


def test_interrupt_cancels_long_query_and_keeps_session(kernel):
    kernel.ok("CREATE SCHEMA keep; CREATE TABLE keep.t (x INT); INSERT INTO keep.t VALUES (1), (2);")
    kernel.ok("CREATE VIEW keep_view AS SELECT 40 + 2 AS answer;")
    msg_id = kernel.kc.execute(LONG_QUERY)
    # wait until it is running
    deadline = time.monotonic() + 10
    seen = []
    while not any(m["msg_type"] == "execute_input" for m in seen):
        assert time.monotonic() < deadline, "no execute_input for the long query"
        m = kernel.kc.get_iopub_msg(timeout=10)
        if m["parent_header"].get("msg_id") == msg_id:
            seen.append(m)
    time.sleep(0.5)
    t0 = time.monotonic()
    kernel.km.interrupt_kernel()
    reply = kernel.shell_reply(msg_id, timeout=15)
    took = time.monotonic() - t0
    assert reply["content"]["status"] == "error", reply["content"]
    assert reply["content"]["ename"] == "Interrupted", reply["content"]
    assert took < 5, f"interrupt took {took:.1f}s"
    iopub = seen + kernel.iopub_until_idle(msg_id)
    errors = [m for m in iopub if m["msg_type"] == "error"]
    assert len(errors) == 1 and errors[0]["content"]["ename"] == "Interrupted"
    # the session is intact
    run = kernel.ok("SELECT count(*) AS c FROM keep.t;")
    assert [text_of(c).strip() for c in html_cells(run.results[-1]["text/html"])] == ["2"]
    run = kernel.ok("SELECT answer FROM keep_view;")
    assert [text_of(c).strip() for c in html_cells(run.results[-1]["text/html"])] == ["42"]


# Plans that never reach an await point: a cross join turns each input batch into thousands of
# output batches and the aggregate above it polls in a loop (issue 20 §1). Uninterrupted, each
# runs for minutes on two cores.
CPU_BOUND = [
    "SELECT sum(a.value * b.value) FROM range(300000) a CROSS JOIN range(300000) b",
    "SELECT count(*) FROM range(1000000000) a JOIN range(10000000) b ON a.value = b.value",
    "SELECT count(*) FROM (SELECT value % 30000000 AS k, sum(value) FROM range(1000000000) GROUP BY value % 30000000)",
    # A sort of 40M rows queues one task per input batch ahead of the abort: with one engine
    # thread (CPU_LIMIT=1) they took 2.7-3.7 s to run out before the reply could go.
    "SELECT max(r) FROM (SELECT row_number() OVER (PARTITION BY value % 1000 ORDER BY value DESC) AS r FROM range(40000000))",
]


@pytest.mark.parametrize("cpu_limit", [None, "1"], ids=["cpu-unset", "cpu-1"])
def test_interrupt_stops_cpu_bound_plans_and_keeps_session(start_kernel, tmp_path, cpu_limit):
    env = {"CPU_LIMIT": cpu_limit} if cpu_limit else {}
    k = start_kernel(tmp_path / "home", **env)
    k.ok("SET p = 41; CREATE VIEW kept AS SELECT 1 AS one;")
    for query in CPU_BOUND:
        msg_id = k.kc.execute(query)
        while True:
            m = k.kc.get_iopub_msg(timeout=30)
            if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "execute_input":
                break
        time.sleep(1.0)
        t0 = time.monotonic()
        k.km.interrupt_kernel()
        reply = k.shell_reply(msg_id, timeout=120)
        took = time.monotonic() - t0
        k.iopub_until_idle(msg_id)
        assert reply["content"]["status"] == "error", (query, reply["content"])
        assert reply["content"]["ename"] == "Interrupted", (query, reply["content"])
        # The goal is 0.2 s (tests/bench/interrupt_bench.py measures it); CI machines vary.
        assert took < 2, f"{query}: the reply came {took:.1f} s after the interrupt"
        run = k.ok("SELECT $p + 1 AS a, one FROM kept;")
        assert [text_of(c).strip() for c in html_cells(run.results[-1]["text/html"])] == ["42", "1"]


def test_interrupt_when_idle_is_harmless(kernel):
    kernel.km.interrupt_kernel()
    time.sleep(0.3)
    kernel.ok("SELECT 1;")


def test_control_answers_while_a_cell_runs(kernel):
    msg_id = kernel.kc.execute(LONG_QUERY)
    time.sleep(0.5)
    reply, _ = kernel.request("kernel_info_request", {}, channel="control", timeout=5)
    assert reply["msg_type"] == "kernel_info_reply"
    kernel.km.interrupt_kernel()
    assert kernel.shell_reply(msg_id, timeout=15)["content"]["status"] == "error"
    kernel.iopub_until_idle(msg_id)


# -- raw messages: signatures and bad bytes ---------------------------------------------------


class RawShell:
    """A DEALER socket on the kernel's shell port that sends hand-built multipart messages."""

    def __init__(self, kernel):
        info = kernel.km.get_connection_info()
        self.key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
        self.session_id = uuid.uuid4().hex
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        if info["transport"] == "ipc":
            self.sock.connect(f"ipc://{info['ip']}-{info['shell_port']}")
        else:
            self.sock.connect(f"tcp://{info['ip']}:{info['shell_port']}")

    def frames(self, msg_type: str, content: bytes | dict, key: bytes | None = None) -> tuple[str, list[bytes]]:
        msg_id = uuid.uuid4().hex
        header = json.dumps({
            "msg_id": msg_id, "msg_type": msg_type, "session": self.session_id, "username": "test",
            "date": datetime.now(timezone.utc).isoformat(), "version": "5.3",
        }).encode()
        body = content if isinstance(content, bytes) else json.dumps(content).encode()
        parts = [header, b"{}", b"{}", body]
        mac = hmac.new(self.key if key is None else key, digestmod=hashlib.sha256)
        for p in parts:
            mac.update(p)
        return msg_id, [b"<IDS|MSG>", mac.hexdigest().encode(), *parts]

    def send(self, msg_type, content, key=None, signature: bytes | None = None) -> str:
        msg_id, frames = self.frames(msg_type, content, key)
        if signature is not None:
            frames[1] = signature
        self.sock.send_multipart(frames)
        return msg_id

    def recv(self, timeout: float) -> list[bytes] | None:
        if self.sock.poll(int(timeout * 1000)):
            return self.sock.recv_multipart()
        return None

    def close(self):
        self.sock.close()


@pytest.fixture
def raw(kernel):
    r = RawShell(kernel)
    yield r
    r.close()


def parse_reply(frames: list[bytes]) -> dict:
    i = frames.index(b"<IDS|MSG>")
    header, parent, _meta, content = (json.loads(f) for f in frames[i + 2 : i + 6])
    return {"header": header, "parent_header": parent, "content": content}


def test_raw_correctly_signed_message_gets_reply(raw):
    msg_id = raw.send("kernel_info_request", {})
    frames = raw.recv(timeout=5)
    assert frames is not None, "no reply to a correctly signed kernel_info_request"
    reply = parse_reply(frames)
    assert reply["header"]["msg_type"] == "kernel_info_reply" and reply["parent_header"]["msg_id"] == msg_id


@pytest.mark.parametrize("how", ["wrong key", "empty signature", "garbage signature"])
def test_badly_signed_message_gets_no_reply(kernel, raw, how):
    code = {"code": "CREATE SCHEMA should_not_exist;", "silent": False, "store_history": True,
            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
    if how == "wrong key":
        raw.send("execute_request", code, key=b"not-the-key")
    elif how == "empty signature":
        raw.send("execute_request", code, signature=b"")
    else:
        raw.send("execute_request", code, signature=b"0" * 64)
    assert raw.recv(timeout=1.0) is None, "the kernel answered a badly signed message"
    # still serving, on the same socket
    msg_id = raw.send("kernel_info_request", {})
    frames = raw.recv(timeout=5)
    assert frames is not None and parse_reply(frames)["parent_header"]["msg_id"] == msg_id
    # and the badly signed cell never ran
    run = kernel.ok("SHOW TABLES;")
    assert "should_not_exist" not in json.dumps(run.results)
    kernel.assert_alive()


def test_replayed_message_is_refused(kernel, raw):
    _, frames = raw.frames("kernel_info_request", {})
    raw.sock.send_multipart(frames)
    assert raw.recv(timeout=5) is not None
    raw.sock.send_multipart(frames)  # the same signature again
    assert raw.recv(timeout=1.0) is None, "the kernel answered a replayed message"
    kernel.assert_alive()


def test_non_utf8_content_does_not_kill_the_kernel(kernel, raw):
    body = b'{"code": "SELECT \'\xff\xfe\' AS x;", "silent": false, "store_history": true, ' \
           b'"user_expressions": {}, "allow_stdin": false, "stop_on_error": true}'
    msg_id = raw.send("execute_request", body)
    frames = raw.recv(timeout=3)
    if frames is not None:  # no reply (dropped and logged) or a well-formed one
        reply = parse_reply(frames)
        assert reply["header"]["msg_type"] == "execute_reply"
        assert reply["parent_header"].get("msg_id") == msg_id
        assert reply["content"]["status"] in ("ok", "error"), reply
    kernel.assert_alive()
    kernel.ok("SELECT 1;")


def test_non_utf8_header_does_not_kill_the_kernel(kernel, raw):
    msg_id, frames = raw.frames("kernel_info_request", {})
    frames[2] = frames[2].replace(b'"test"', b'"\xff\xfe"')
    mac = hmac.new(raw.key, digestmod=hashlib.sha256)
    for p in frames[2:]:
        mac.update(p)
    frames[1] = mac.hexdigest().encode()
    raw.sock.send_multipart(frames)
    raw.recv(timeout=2)  # either answer is acceptable
    kernel.assert_alive()


def test_unknown_message_type(kernel):
    msg = kernel.kc.session.msg("no_such_request", {"x": 1})
    kernel.kc.shell_channel.send(msg)
    time.sleep(0.5)
    kernel.assert_alive()
    kernel.ok("SELECT 1;")


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["", "   \n\t  \n", ";", ";;", "-- only a comment", "/* only a comment */"])
def test_empty_cells(kernel, code):
    run = kernel.execute(code)
    assert run.status in ("ok", "error"), run.describe()
    if run.status == "error":
        assert_error_shape(run)
    else:
        assert run.of_type("error") == []
    kernel.assert_alive()


def test_one_megabyte_comment_cell(kernel):
    code = "SELECT 7 AS seven; -- " + "x" * 1_000_000
    run = kernel.ok(code, timeout=120)
    assert "7" in run.results[-1]["text/plain"]
    kernel.assert_alive()


def test_one_megabyte_values_list(kernel):
    kernel.ok("CREATE SCHEMA big; CREATE TABLE big.t (x BIGINT, s STRING);")
    rows = ",".join(f"({i}, 'row{i}')" for i in range(60_000))
    code = f"INSERT INTO big.t VALUES {rows};"
    assert len(code) > 1_000_000
    run = kernel.execute(code, timeout=300)
    if run.status == "ok":
        assert "Inserted 60000 rows into big.t" in run.stdout.replace(",", ""), run.describe()
        run = kernel.ok("SELECT count(*) AS c FROM big.t;")
        assert "60000" in run.results[-1]["text/plain"]
    else:
        assert_error_shape(run)
    kernel.assert_alive()


def test_deeply_nested_expression(kernel):
    code = "SELECT " + "(" * 5000 + "1" + ")" * 5000 + ";"
    run = kernel.execute(code, timeout=60)
    if run.status == "error":
        assert_error_shape(run)
    kernel.assert_alive()


@pytest.mark.parametrize("cursor_pos", [100, 10_000, -1])
def test_completion_cursor_out_of_range(kernel, cursor_pos):
    msg = kernel.kc.session.msg("complete_request", {"code": "SEL", "cursor_pos": cursor_pos})
    kernel.kc.shell_channel.send(msg)
    reply = kernel.shell_reply(msg["header"]["msg_id"], timeout=10)
    assert reply["msg_type"] == "complete_reply"
    c = reply["content"]
    assert c["status"] in ("ok", "error"), c
    if c["status"] == "ok":
        assert 0 <= c["cursor_start"] <= c["cursor_end"] <= 3, c
        assert isinstance(c["matches"], list)
    else:
        assert c.get("ename") and c.get("evalue") is not None, c
    kernel.assert_alive()


def test_inspect_cursor_out_of_range(kernel):
    msg = kernel.kc.session.msg("inspect_request", {"code": "SELECT", "cursor_pos": 999, "detail_level": 0})
    kernel.kc.shell_channel.send(msg)
    reply = kernel.shell_reply(msg["header"]["msg_id"], timeout=10)
    assert reply["content"]["status"] in ("ok", "error")
    kernel.assert_alive()


def test_non_ascii_cell_and_cursor_in_code_points(kernel):
    run = kernel.ok("SELECT 'ünïcødé 🦀' AS s;")
    assert "ünïcødé 🦀" in run.results[-1]["text/plain"]
    # cursor_pos counts unicode code points (protocol 5.2+)
    code = "SELECT '🦀', coun"
    reply, _ = kernel.request("complete_request", {"code": code, "cursor_pos": len(code)})
    assert any(s.startswith("SELECT '🦀', count") for s in apply_completion(code, reply)), reply["content"]
