"""Protocol conformance through jupyter_kernel_test: every message is checked against the v5 schema."""

from __future__ import annotations

import shutil
import tempfile

import jupyter_kernel_test
from jupyter_client.manager import start_new_kernel

from conftest import BIN, KERNEL_NAME, kernel_env

# Created in setUpClass so that completion and inspection have something to find.
SEED = """
CREATE SCHEMA IF NOT EXISTS conformance;
CREATE TABLE IF NOT EXISTS conformance.events (customer_id STRING, event_type STRING, amount DOUBLE);
INSERT INTO conformance.events VALUES ('c1', 'purchase', 12.5);
"""


class LakehouseKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = KERNEL_NAME
    language_name = "sql"
    file_extension = ".sql"

    # Each code must be safe to run many times (test_history re-runs them).
    code_execute_result = [
        {"code": "SELECT 1 AS one;", "mime": "text/plain"},
        {"code": "SELECT 'hello' AS greeting;", "mime": "text/html"},
        {"code": "SELECT 42 AS answer;", "mime": "text/plain"},
    ]
    # A row-returning statement before the last one is shown as display_data.
    code_display_data = [{"code": "SELECT 1 AS a; SELECT 2 AS b;", "mime": "text/html"}]
    code_generate_error = "SELECT * FROM no_such_table;"

    # Keywords complete from a prefix; table names are only checked for a valid reply here
    # (test_kernel.py checks what applying the completion gives).
    completion_samples = [
        {"text": "SELEC", "matches": {"SELECT"}},
        {"text": "SELECT * FROM conformance.ev"},
        {"text": "SELECT coun"},
    ]

    complete_code_samples = [
        "SELECT 1;",
        "",
        "SELECT 'a;b';",
        "SELECT 1; SELECT 2;",
        "CREATE SCHEMA IF NOT EXISTS x;",
        "SELECT 1; -- a comment after the statement\n",
    ]
    incomplete_code_samples = [
        "SELECT 1",
        "SELECT 'abc",
        "SELECT (1 + 2",
        "SELECT 1 /* an open comment",
        "SELECT * FROM t WHERE",
        "SELECT 1;\nSELECT 2",
    ]
    invalid_code_samples = [
        "SELEC 1;",
        "SELECT 1 +;",
        "SELECT 1);",
    ]

    code_inspect_sample = "SELECT * FROM conformance.events"

    code_history_pattern = "SELECT 42*"
    supported_history_operations = ("tail", "range", "search")

    @classmethod
    def setUpClass(cls) -> None:
        assert BIN.exists(), f"kernel binary not found at {BIN}: run tests/run"
        cls._home = tempfile.mkdtemp(prefix="lakehouse-conformance-")
        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name, env=kernel_env(cls._home))
        reply = cls.kc.execute_interactive(SEED, timeout=120, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        shutil.rmtree(cls._home, ignore_errors=True)
