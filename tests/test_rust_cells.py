"""Rust cells (`%%rust`, through evcxr) in the same session as SQL cells, driven by jupyter_client.

The Rust environment (the `lakehouse` client crate and Arrow) is compiled once into
LAKEHOUSE_RUST_CACHE by `lakehouse-kernel install` (tests/run runs it); a kernel's first Rust cell
then only builds the small client crate.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from conftest import Kernel

# The first Rust cell of a kernel starts evcxr and builds the client crate: seconds with a
# prepared cache, minutes without one.
FIRST = 900


@pytest.fixture(scope="module")
def rk(kernel_binary, tmp_path_factory):  # noqa: ARG001
    """One kernel for the tests that can share it (each leaves it usable, which is checked)."""
    k = Kernel(tmp_path_factory.mktemp("rust-home"))
    k.ok("%%rust\nlet started = 1;", timeout=FIRST)
    yield k
    k.close()


def plain(run) -> str:
    results = [m["content"]["data"] for m in run.iopub if m["msg_type"] == "execute_result"]
    assert len(results) == 1, run.describe()
    return results[0]["text/plain"]


def html_rows(html: str) -> list[list[str]]:
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, flags=re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        if cells:
            rows.append(cells)
    return rows


def test_sql_table_to_rust_and_a_rust_result_back_to_sql(rk):
    rk.ok("CREATE SCHEMA IF NOT EXISTS rs; "
          "CREATE TABLE rs.events AS SELECT value % 3 AS customer, CAST(value AS DOUBLE) AS amount FROM range(30)")
    run = rk.ok("""%%rust
let events = sql("SELECT customer, amount FROM rs.events")?;
let c = events.primitive::<Int64Type>("customer")?;
let a = events.primitive::<Float64Type>("amount")?;
let mut totals = std::collections::BTreeMap::new();
for i in 0..c.len() { *totals.entry(c.value(i)).or_insert(0.0) += a.value(i); }
let schema = std::sync::Arc::new(Schema::new(vec![
    Field::new("customer", DataType::Int64, false),
    Field::new("total", DataType::Float64, false),
]));
let out = RecordBatch::try_new(schema, vec![
    std::sync::Arc::new(Int64Array::from_iter_values(totals.keys().copied())),
    std::sync::Arc::new(Float64Array::from_iter_values(totals.values().copied())),
])?;
println!("{} customers from {} rows", out.num_rows(), events.num_rows());
register("rust_totals", out)?;
""")
    assert "3 customers from 30 rows" in run.stdout
    back = rk.ok("SELECT customer, total FROM rust_totals ORDER BY customer")
    rows = html_rows(back.results[-1]["text/html"])
    # sum of 0..30 by value % 3: 0+3+...+27 = 135, 1+4+...+28 = 145, 2+5+...+29 = 155
    assert rows == [["0", "135.0"], ["1", "145.0"], ["2", "155.0"]], rows


def test_variables_functions_and_use_persist_and_the_last_value_is_the_result(rk):
    rk.ok("%%rust\nuse std::collections::HashMap;\nlet base: i64 = 40;")
    rk.ok("%%rust\nfn bump(v: i64) -> i64 { v + 2 }\nlet mut m: HashMap<&'static str, i64> = HashMap::new();")
    run = rk.ok("%%rust\nm.insert(\"x\", bump(base));\nm[\"x\"]")
    assert plain(run) == "42"


def test_output_streams_while_the_cell_runs(rk):
    msg_id = rk.kc.execute('%%rust\nprintln!("first");\nstd::thread::sleep(std::time::Duration::from_millis(2500));\nprintln!("second");')
    seen = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        m = rk.kc.get_iopub_msg(timeout=120)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "stream":
            for word in ("first", "second"):
                if word in m["content"]["text"]:
                    seen.setdefault(word, time.monotonic())
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            seen["idle"] = time.monotonic()
            break
    rk.shell_reply(msg_id)
    assert set(seen) == {"first", "second", "idle"}, seen
    # "first" reached the client while the cell was still sleeping.
    assert seen["idle"] - seen["first"] > 2.0, seen


def test_a_record_batch_renders_like_a_sql_result(rk):
    run = rk.ok('%%rust\nsql("SELECT value AS n, value * 2 AS twice FROM range(120)")?.to_batch()?')
    results = [m["content"]["data"] for m in run.iopub if m["msg_type"] == "execute_result"]
    assert len(results) == 1, run.describe()
    html = results[0]["text/html"]
    assert "<table" in html and ">n<" in html and ">twice<" in html
    assert "120" in html  # "showing 50 of 120 rows"
    assert len(html_rows(html)) == 50
    assert "twice" in results[0]["text/plain"]


def test_a_panic_is_an_error_and_the_session_goes_on(rk):
    rk.ok("%%rust\nlet kept = 7;")
    run = rk.execute('%%rust\nlet lost = 1;\npanic!("boom at row {}", 3);')
    assert run.status == "error"
    assert run.error["ename"] == "RustPanic"
    assert "boom at row 3" in run.error["evalue"]
    run = rk.ok("%%rust\nkept + 1")
    assert plain(run) == "8"
    rk.ok("SELECT 1")


def test_a_compile_error_shows_the_message_and_the_line(rk):
    run = rk.execute('%%rust\nlet a = 1;\nlet b: i32 = "text";')
    assert run.status == "error"
    err = run.error
    assert err["ename"] == "CompileError"
    assert "mismatched types" in err["evalue"] and "cell line 3" in err["evalue"], err["evalue"]
    tb = "\n".join(err["traceback"])
    assert 'let b: i32 = "text";' in tb
    assert "^" in tb
    assert "evcxr" not in tb and '"rendered"' not in tb  # no JSON dump
    rk.ok("%%rust\nstarted + 1")


def test_interrupt_stops_a_long_loop_and_the_next_cell_works(rk):
    rk.ok("SET kept_param = 5")
    msg_id = rk.kc.execute("%%rust\nloop { std::thread::sleep(std::time::Duration::from_millis(10)); }")
    time.sleep(3)
    reply, _ = rk.request("interrupt_request", {}, channel="control")
    assert reply["content"]["status"] == "ok"
    r = rk.shell_reply(msg_id, timeout=60)
    assert r["content"]["status"] == "error"
    assert r["content"]["ename"] == "Interrupted"
    assert "Rust variables are gone" in r["content"]["evalue"]
    rk.iopub_until_idle(msg_id)
    run = rk.ok("%%rust\n20 + 22", timeout=120)
    assert plain(run) == "42"
    # SQL state survived.
    run = rk.ok("SELECT $kept_param AS v")
    assert "5" in run.results[-1]["text/plain"]


def test_a_crashing_process_is_reported_and_restarted(rk):
    rk.ok("CREATE TABLE IF NOT EXISTS crash_survivor AS SELECT 1 AS x")
    run = rk.execute("%%rust\nstd::process::abort();", timeout=120)
    assert run.status == "error"
    assert run.error["ename"] == "RustProcessCrashed"
    assert "restarted" in run.error["evalue"] and "SQL" in run.error["evalue"]
    run = rk.ok("%%rust\nlakehouse::sql(\"SELECT x FROM crash_survivor\")?.num_rows()", timeout=120)
    assert plain(run) == "1"
    # The panic hook came back with the new process.
    run = rk.execute('%%rust\npanic!("again");')
    assert run.error["ename"] == "RustPanic"


def test_parameters_and_settings_reach_rust(rk):
    rk.ok("SET num_events = 2500; SET region = 'emea'; SET lakehouse.max_rows = 20")
    run = rk.ok('%%rust\nlet n: i64 = param("num_events")?;\nlet r: String = param("region")?;\n'
                'format!("{} {} {}", n * 2, r, setting("lakehouse.max_rows")?)')
    assert plain(run) == '"5000 emea 20"'
    run = rk.execute('%%rust\nlet missing: i64 = param("nope")?;')
    assert run.status == "error"
    assert "nope is not set" in "\n".join(run.error["traceback"]) + run.error["evalue"]
    rk.ok("SET lakehouse.max_rows = 50")


def test_completion_and_inspection_in_a_rust_cell(rk):
    code = "%%rust\nlet v = vec![1, 2, 3];\nv.le"
    reply, _ = rk.request("complete_request", {"code": code, "cursor_pos": len(code)}, timeout=60)
    c = reply["content"]
    assert "len" in c["matches"], c["matches"][:20]
    assert c["cursor_end"] == len(code)
    assert code[c["cursor_start"]:c["cursor_end"]] == "le"
    code = "%%rust\nlet s = String::new();"
    reply, _ = rk.request("inspect_request", {"code": code, "cursor_pos": code.index("String") + 2, "detail_level": 0},
                          timeout=60)
    assert reply["content"]["found"], reply["content"]
    assert "String" in reply["content"]["data"]["text/plain"]
    # Nothing to document: not found.
    code = "%%rust\nlet s = 1;  "
    reply, _ = rk.request("inspect_request", {"code": code, "cursor_pos": len(code), "detail_level": 0}, timeout=60)
    assert not reply["content"]["found"], reply["content"]


def test_without_cargo_a_rust_cell_says_what_to_install_and_sql_works(start_kernel, tmp_path):
    k = start_kernel(tmp_path / "home", PATH="/usr/bin:/bin")
    run = k.execute("%%rust\nlet x = 1;")
    assert run.status == "error"
    assert run.error["ename"] == "RustUnavailable"
    assert "rustup" in run.error["evalue"] and "cargo" in run.error["evalue"]
    k.ok("SELECT 1 AS still_fine")


def test_the_rust_kernelspec_runs_rust_unless_sql(start_kernel, tmp_path):
    k = start_kernel(tmp_path / "home", kernel_name="lakehouse-rust")
    reply, _ = k.request("kernel_info_request", {})
    assert reply["content"]["language_info"]["name"] == "rust"
    assert plain(k.ok("1 + 2", timeout=FIRST)) == "3"
    run = k.ok("%%sql\nSELECT 40 + 2 AS answer")
    assert "42" in run.results[-1]["text/plain"]


def test_the_rust_example_notebook_runs_under_nbconvert(kernel_binary, tmp_path):  # noqa: ARG001
    import subprocess
    import sys

    import nbformat

    from conftest import REPO, kernel_env

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
           f"--ExecutePreprocessor.timeout={FIRST}", "--output-dir", str(out), "--output", "rust.ipynb",
           str(REPO / "examples" / "rust-and-sql.ipynb")]
    proc = subprocess.run(cmd, env=kernel_env(tmp_path / "home"), capture_output=True, text=True, timeout=FIRST + 60)
    assert proc.returncode == 0, f"nbconvert failed:\n{proc.stderr[-4000:]}"
    nb = nbformat.read(out / "rust.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in code:
        assert not [o for o in c.outputs if o.output_type == "error"], c.source
    rust = next(c for c in code if c.source.startswith("%%rust"))
    text = "".join(o.get("text", "") for o in rust.outputs if o.output_type == "stream")
    assert "7 customers with orders of at least 20" in text, rust.outputs
    result = [o for o in rust.outputs if o.output_type == "execute_result"]
    assert len(result) == 1 and len(html_rows(result[0].data["text/html"])) == 7
    joined = next(c for c in code if "JOIN shop.orders" in c.source)
    html = [o for o in joined.outputs if o.output_type == "execute_result"][0].data["text/html"]
    rows = html_rows(html)
    assert len(rows) == 7 and all(int(r[3]) > int(r[1]) > 0 for r in rows), rows
