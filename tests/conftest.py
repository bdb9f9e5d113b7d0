"""Shared fixtures for the kernel tests.

The tests drive the release binary (``$LAKEHOUSE_KERNEL_BIN``: tests/run sets it to the clone's
``.cache/bin/lakehouse-kernel``; else ``$CARGO_TARGET_DIR/release/lakehouse-kernel``, default
``~/.cache/lakehouse/target``) through its kernelspec ``lakehouse``. ``tests/run`` builds the
binary and installs the kernelspec into the venv; when pytest is run some other way and the
kernelspec found does not point at the binary under test, it is installed into a temporary
prefix for this session. Every kernel gets its own ``LAKEHOUSE_HOME`` in a temporary folder:
nothing here reads or writes the user's catalog.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/lakehouse/target"))
BIN = Path(os.environ.get("LAKEHOUSE_KERNEL_BIN", TARGET_DIR / "release/lakehouse-kernel")).resolve()
KERNEL_NAME = "lakehouse"

# Settings from the caller's environment must not leak into the kernels under test. The Rust
# cells' compile cache is not a setting that changes results (cargo's fingerprints decide what
# it rebuilds): keep the caller's, or the default one under ~/.cache beside ~/.rustup, the
# layout users have.
for _var in [v for v in os.environ
             if v.startswith("LAKEHOUSE_") and v not in ("LAKEHOUSE_KERNEL_BIN", "LAKEHOUSE_RUST_CACHE")]:
    os.environ.pop(_var)

_SESSION_TMP = Path(tempfile.mkdtemp(prefix="lakehouse-tests-"))
# An empty config file, so that a ~/.config/lakehouse/config.toml cannot change the tests either.
(_SESSION_TMP / "empty-config.toml").write_text("")
os.environ["LAKEHOUSE_CONFIG"] = str(_SESSION_TMP / "empty-config.toml")
# Nor a ~/.config/lakehouse/startup.sql, nor the limits of a JupyterHub the tests run under.
os.environ["LAKEHOUSE_STARTUP_FILE"] = "none"
for _var in ("MEM_LIMIT", "CPU_LIMIT"):
    os.environ.pop(_var, None)
# A default home for anything that launches the kernelspec without an explicit env
# (jupyter_kernel_test, nbconvert). Tests that care pass their own.
os.environ["LAKEHOUSE_HOME"] = str(_SESSION_TMP / "default-home")


def _kernelspec_points_at_binary() -> bool:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        return False
    return bool(spec.argv) and Path(spec.argv[0]).resolve() == BIN


def _ensure_kernelspec() -> None:
    if not BIN.exists():
        return  # the tests that need the kernel fail with a clear message (see `kernel_binary`)
    if _kernelspec_points_at_binary():
        return
    prefix = _SESSION_TMP / "prefix"
    subprocess.run([str(BIN), "install", "--prefix", str(prefix)], check=True, capture_output=True)
    data = str(prefix / "share" / "jupyter")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (data, os.environ.get("JUPYTER_PATH")) if p)
    assert _kernelspec_points_at_binary(), "installed the kernelspec but jupyter_client does not find it"


_ensure_kernelspec()


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    shutil.rmtree(_SESSION_TMP, ignore_errors=True)


@pytest.fixture(scope="session")
def kernel_binary() -> Path:
    if not BIN.exists():
        pytest.fail(f"kernel binary not found at {BIN}: run `cargo build --release` (tests/run does)")
    return BIN


def kernel_env(home: Path | str, **extra: str) -> dict[str, str]:
    """The environment for a kernel process: ours, with its own LAKEHOUSE_HOME."""
    env = dict(os.environ)
    env["LAKEHOUSE_HOME"] = str(home)
    env.update(extra)
    return env


@dataclass
class Run:
    """What one execute_request produced."""

    msg_id: str
    reply: dict[str, Any]
    iopub: list[dict[str, Any]] = field(default_factory=list)

    @property
    def content(self) -> dict[str, Any]:
        return self.reply["content"]

    @property
    def status(self) -> str:
        return self.content["status"]

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """iopub messages other than status and execute_input."""
        return [m for m in self.iopub if m["msg_type"] not in ("status", "execute_input")]

    def of_type(self, msg_type: str) -> list[dict[str, Any]]:
        return [m for m in self.iopub if m["msg_type"] == msg_type]

    @property
    def stdout(self) -> str:
        return "".join(m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stdout")

    @property
    def results(self) -> list[dict[str, Any]]:
        """display_data and execute_result bundles, in order."""
        return [m["content"]["data"] for m in self.iopub if m["msg_type"] in ("display_data", "execute_result")]

    @property
    def error(self) -> dict[str, Any]:
        errors = self.of_type("error")
        assert len(errors) == 1, f"expected one error output, got {[m['msg_type'] for m in self.iopub]}"
        return errors[0]["content"]

    def describe(self) -> str:
        return json.dumps(
            {"reply": self.content, "iopub": [(m["msg_type"], m["content"]) for m in self.iopub]},
            indent=1,
            default=str,
        )[:4000]


class Kernel:
    """A lakehouse kernel process and a blocking client, with helpers that validate every message."""

    def __init__(self, home: Path, kernel_name: str = KERNEL_NAME, **extra_env: str) -> None:
        from jupyter_client.manager import KernelManager

        self.home = home
        self.km = KernelManager(kernel_name=kernel_name)
        self.km.start_kernel(env=kernel_env(home, **extra_env))
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=60)
        except RuntimeError:
            self.close()
            raise
        self.flush()

    # -- plumbing -------------------------------------------------------------------------
    def flush(self, timeout: float = 0.1) -> None:
        for get in (self.kc.get_shell_msg, self.kc.get_iopub_msg):
            while True:
                try:
                    get(timeout=timeout)
                except Empty:
                    break

    def shell_reply(self, msg_id: str, timeout: float = 30) -> dict[str, Any]:
        """The shell reply to msg_id (replies to other requests are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no shell reply to {msg_id} within {timeout}s")
            try:
                msg = self.kc.get_shell_msg(timeout=left)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def iopub_until_idle(self, msg_id: str, timeout: float = 30) -> list[dict[str, Any]]:
        """iopub messages whose parent is msg_id, up to and including its idle status."""
        deadline = time.monotonic() + timeout
        msgs: list[dict[str, Any]] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no idle for {msg_id} within {timeout}s; got {[m['msg_type'] for m in msgs]}")
            try:
                msg = self.kc.get_iopub_msg(timeout=left)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            msgs.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return msgs

    def request(self, msg_type: str, content: dict[str, Any], timeout: float = 30, channel: str = "shell") -> tuple[dict, list]:
        """Send any request; return (reply, iopub messages up to idle), both validated.
        On the control channel only the reply is awaited (iopub is returned empty)."""
        from jupyter_kernel_test.msgspec_v5 import validate_message

        msg = self.kc.session.msg(msg_type, content)
        if channel == "shell":
            self.kc.shell_channel.send(msg)
            reply = self.shell_reply(msg["header"]["msg_id"], timeout)
        else:
            self.kc.control_channel.send(msg)
            reply = self.kc.control_channel.get_msg(timeout=timeout)
        validate_message(reply, msg_type.replace("_request", "_reply"), msg["header"]["msg_id"])
        if channel != "shell":
            return reply, []
        iopub = self.iopub_until_idle(msg["header"]["msg_id"], timeout)
        for m in iopub:
            validate_message(m, m["msg_type"], msg["header"]["msg_id"])
        return reply, iopub

    def execute(self, code: str, timeout: float = 60, **kwargs: Any) -> Run:
        """Run a cell and return its reply and iopub messages (all validated against the v5 schema)."""
        from jupyter_kernel_test.msgspec_v5 import validate_message

        msg_id = self.kc.execute(code, **kwargs)
        reply = self.shell_reply(msg_id, timeout)
        validate_message(reply, "execute_reply", msg_id)
        iopub = self.iopub_until_idle(msg_id, timeout)
        for m in iopub:
            validate_message(m, m["msg_type"], msg_id)
        return Run(msg_id, reply, iopub)

    def ok(self, code: str, **kwargs: Any) -> Run:
        run = self.execute(code, **kwargs)
        assert run.status == "ok", f"cell failed: {code[:200]!r}\n{run.describe()}"
        return run

    def assert_alive(self, timeout: float = 10) -> None:
        """The kernel answers a kernel_info_request on shell and its process is running."""
        assert self.km.is_alive(), "kernel process died"
        msg_id = self.kc.kernel_info()
        reply = self.shell_reply(msg_id, timeout)
        assert reply["msg_type"] == "kernel_info_reply"
        self.iopub_until_idle(msg_id, timeout)

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "lakehouse-home"


@pytest.fixture
def kernel(kernel_binary: Path, home: Path):  # noqa: ARG001
    k = Kernel(home)
    yield k
    k.close()


@pytest.fixture
def start_kernel(kernel_binary: Path):  # noqa: ARG001
    """Factory for extra kernels (own env); all are shut down at the end of the test."""
    started: list[Kernel] = []

    def start(home: Path, kernel_name: str = KERNEL_NAME, **extra_env: str) -> Kernel:
        k = Kernel(home, kernel_name, **extra_env)
        started.append(k)
        return k

    yield start
    for k in started:
        k.close()


def append_concurrently(kernels: dict[str, "Kernel"], table: str, rows_each: int) -> list[str]:
    """Every kernel appends `rows_each` one-row INSERTs into `table (who STRING, i BIGINT)` at
    the same time, one thread per kernel. Returns the failures (empty when every append landed)."""
    import threading

    errors: list[str] = []

    def append(k: Kernel, who: str) -> None:
        for i in range(rows_each):
            run = k.execute(f"INSERT INTO {table} VALUES ('{who}', {i})", timeout=120)
            if run.status != "ok":
                errors.append(f"{who}{i}: {run.error['evalue']}")

    threads = [threading.Thread(target=append, args=(k, w)) for w, k in kernels.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
