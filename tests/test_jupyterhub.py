"""The kernel inside a real JupyterHub, two users on one Nessie catalog (issue 7).

A real JupyterHub (pip `jupyterhub`) with configurable-http-proxy (npm, pinned in
tests/hub/package.json and installed into .cache/chp), DummyAuthenticator with a password and
SimpleLocalProcessSpawner (single-user servers as local processes of this OS user, from the
test venv), everything on 127.0.0.1, the hub's state in a temporary folder
(tests/hub/jupyterhub_config.py reads the settings this test writes). The spawner gives each
user a different MEM_LIMIT / CPU_LIMIT (Spawner.mem_limit / cpu_limit set in a pre_spawn_hook),
their own LAKEHOUSE_HOME, and the Nessie + S3 settings of the servers from tests/services.

Each user logs in through the Hub's REST API (a token for username + password), starts their
server through it, starts a `lakehouse` kernel through jupyter_server's REST API behind the
proxy and runs cells over the kernel's websocket (jupyter_server's JSON protocol). Then the
branch-per-person workflow: A writes a table on a branch, B does not see it on main, A merges,
B sees the rows.

The module starts and stops everything itself (hub, proxy, single-user servers, kernels), also
when a test fails: the hub stops its servers and proxy on SIGTERM, and any process that still
carries this run's marker in its environment is killed by pid afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from conftest import BIN, REPO, Run

pytest_plugins = ["services.conftest_fixtures"]

HUB_DIR = Path(__file__).resolve().parent / "hub"
CHP_DIR = REPO / ".cache" / "chp"
LOG_DIR = REPO / ".cache" / "logs"
VENV_BIN = Path(sys.executable).parent
PASSWORD = "lakehouse-" + uuid.uuid4().hex[:8]
MARKER = "LAKEHOUSE_HUB_TEST_RUN"
GiB = 1024**3
# Per user: what the admin configures (Spawner.mem_limit / cpu_limit) and what MEM_LIMIT must say.
LIMITS = {
    "alice": {"mem_limit": "1G", "cpu_limit": 1.5, "bytes": 1 * GiB},
    "bob": {"mem_limit": "3G", "cpu_limit": 0.5, "bytes": 3 * GiB},
}


# -- configurable-http-proxy from npm --------------------------------------------------------


def ensure_chp() -> Path:
    """configurable-http-proxy as pinned by tests/hub/package-lock.json, in .cache/chp (npm ci)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("JupyterHub's proxy (configurable-http-proxy) needs Node.js: `node`/`npm` not on PATH")
    exe = CHP_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
    lock = (HUB_DIR / "package-lock.json").read_text()
    stamp = CHP_DIR / ".lock.stamp"
    if exe.exists() and stamp.exists() and stamp.read_text() == lock:
        return exe
    CHP_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(HUB_DIR / name, CHP_DIR / name)
    proc = subprocess.run(
        [npm, "ci", "--prefix", str(CHP_DIR), "--no-audit", "--no-fund", "--loglevel=error"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0 and exe.exists(), f"npm ci of configurable-http-proxy failed:\n{proc.stderr[-3000:]}"
    stamp.write_text(lock)
    return exe


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def marked_pids(marker: str) -> list[int]:
    """Processes whose environment has MARKER=marker: the hub, proxy, servers and kernels of this run."""
    needle = f"{MARKER}={marker}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            pids.append(int(entry.name))
    return pids


def kill_marked(marker: str, sig: int = signal.SIGKILL) -> list[int]:
    pids = marked_pids(marker)
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return pids


def _sigterm_when_parent_dies() -> None:  # in the hub's process, between fork and exec
    """A killed pytest still stops the hub, and the hub stops its servers and proxy."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# -- the Hub ---------------------------------------------------------------------------------


class Hub:
    def __init__(self, tmp: Path, lakehouse_env: dict[str, str]) -> None:
        import requests

        self.http = requests.Session()
        self.marker = uuid.uuid4().hex
        self.data = tmp / "hub"
        self.data.mkdir(parents=True)
        self.proxy_port = free_port()
        self.url = f"http://127.0.0.1:{self.proxy_port}"
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"jupyterhub-{datetime.now():%Y%m%d-%H%M%S}-{self.marker[:6]}.log"
        kernel_env = {
            k: v for k, v in lakehouse_env.items()
            if not k.startswith(("SEAWEEDFS_", "NESSIE_ICEBERG", "NESSIE_WAREHOUSE"))
        }
        environment = {
            **kernel_env,
            MARKER: self.marker,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "LANG": "C.UTF-8",
            # the venv's kernelspec (tests/run installs it with --sys-prefix) or the one conftest
            # installed into a temporary prefix; the hermetic Jupyter config folder
            "JUPYTER_PATH": os.environ.get("JUPYTER_PATH", ""),
            "JUPYTER_CONFIG_DIR": os.environ.get("JUPYTER_CONFIG_DIR", str(self.data / "jupyter-config")),
            "JUPYTER_PLATFORM_DIRS": "1",
            "LAKEHOUSE_CONFIG": os.environ["LAKEHOUSE_CONFIG"],  # conftest's empty config file
            # full values in result tables (branch names, settings)
            "LAKEHOUSE_MAX_COL_WIDTH": "200",
        }
        settings = {
            "data_dir": str(self.data),
            "proxy_port": self.proxy_port,
            "proxy_api_port": free_port(),
            "hub_port": free_port(),
            "chp": str(ensure_chp()),
            "singleuser": str(VENV_BIN / "jupyterhub-singleuser"),
            "password": PASSWORD,
            "users": sorted(LIMITS),
            "limits": {u: {"mem_limit": v["mem_limit"], "cpu_limit": v["cpu_limit"]} for u, v in LIMITS.items()},
            "environment": environment,
        }
        (self.data / "settings.json").write_text(json.dumps(settings, indent=1))
        env = dict(os.environ)
        env[MARKER] = self.marker
        env["LAKEHOUSE_HUB_TEST_SETTINGS"] = str(self.data / "settings.json")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(HUB_DIR / "jupyterhub_config.py")],
            cwd=self.data, env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_sigterm_when_parent_dies,
        )
        try:
            self._wait_up(60)
        except BaseException:
            self.stop()
            raise

    def log_tail(self, n: int = 6000) -> str:
        self.log.flush()
        return f"--- {self.log_path} (tail) ---\n" + self.log_path.read_text(errors="replace")[-n:]

    def _wait_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"jupyterhub exited with {self.proc.returncode}\n{self.log_tail()}")
            try:
                r = self.http.get(f"{self.url}/hub/api/", timeout=2)
                if r.status_code == 200 and "version" in r.json():
                    self.version = r.json()["version"]
                    return
            except Exception:  # noqa: BLE001 (not listening yet)
                pass
            time.sleep(0.25)
        raise AssertionError(f"JupyterHub did not answer on {self.url}/hub/api/ within {timeout}s\n{self.log_tail()}")

    def login(self, name: str, password: str = PASSWORD):
        """A token for the user, from username + password (the Hub asks the Authenticator)."""
        return self.http.post(
            f"{self.url}/hub/api/users/{name}/tokens",
            json={"auth": {"username": name, "password": password}, "note": "test_jupyterhub", "expires_in": 900},
            timeout=30,
        )

    def stop(self) -> None:
        """SIGTERM to the hub (it stops the servers it spawned and its proxy), then kill leftovers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while marked_pids(self.marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.leftovers = kill_marked(self.marker)
        self.log.close()


class User:
    """One person: a token from logging in, their single-user server, their kernels."""

    def __init__(self, hub: Hub, name: str) -> None:
        import requests

        self.hub, self.name = hub, name
        r = hub.login(name)
        assert r.status_code in (200, 201), f"login of {name} failed: {r.status_code} {r.text}\n{hub.log_tail()}"
        self.token = r.json()["token"]
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {self.token}"
        self.kernels: list[KernelSocket] = []

    def api(self, method: str, path: str, **kw: Any):
        return self.http.request(method, f"{self.hub.url}{path}", timeout=kw.pop("timeout", 30), **kw)

    def start_server(self, timeout: float = 90) -> dict[str, Any]:
        r = self.api("POST", f"/hub/api/users/{self.name}/server")
        assert r.status_code in (201, 202), f"start of {self.name}'s server: {r.status_code} {r.text}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("GET", f"/hub/api/users/{self.name}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return server
            time.sleep(0.5)
        raise AssertionError(f"{self.name}'s server not ready within {timeout}s\n{self.hub.log_tail()}")

    def stop_server(self) -> None:
        self.api("DELETE", f"/hub/api/users/{self.name}/server")

    def start_kernel(self, name: str = "lakehouse") -> KernelSocket:
        specs = self.api("GET", f"/user/{self.name}/api/kernelspecs")
        assert specs.status_code == 200, f"{specs.status_code} {specs.text}"
        assert name in specs.json()["kernelspecs"], f"no {name!r} kernelspec: {sorted(specs.json()['kernelspecs'])}"
        r = self.api("POST", f"/user/{self.name}/api/kernels", json={"name": name})
        assert r.status_code == 201, f"start kernel: {r.status_code} {r.text}\n{self.hub.log_tail()}"
        k = KernelSocket(self, r.json()["id"])
        self.kernels.append(k)
        return k

    def close(self) -> None:
        for k in self.kernels:
            k.shutdown()
        self.stop_server()


class KernelSocket:
    """A kernel behind jupyter_server, driven over /api/kernels/<id>/channels (JSON messages)."""

    def __init__(self, user: User, kernel_id: str) -> None:
        import websocket

        self.user, self.id = user, kernel_id
        self.session = uuid.uuid4().hex
        url = f"ws://127.0.0.1:{user.hub.proxy_port}/user/{user.name}/api/kernels/{kernel_id}/channels?session_id={self.session}"
        self.ws = websocket.create_connection(url, header=[f"Authorization: token {user.token}"], timeout=60)
        reply, _ = self.request("kernel_info_request", {}, timeout=60)
        self.info = reply["content"]

    def _msg(self, msg_type: str, content: dict[str, Any], channel: str = "shell") -> dict[str, Any]:
        return {
            "header": {
                "msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": self.session,
                "username": self.user.name, "version": "5.3",
                "date": datetime.now(timezone.utc).isoformat(),
            },
            "parent_header": {}, "metadata": {}, "content": content, "channel": channel, "buffers": [],
        }

    def request(self, msg_type: str, content: dict[str, Any], timeout: float = 120) -> tuple[dict, list]:
        """Send on shell; return the reply and the iopub messages up to idle."""
        msg = self._msg(msg_type, content)
        msg_id = msg["header"]["msg_id"]
        self.ws.send(json.dumps(msg))
        reply, iopub, idle = None, [], False
        deadline = time.monotonic() + timeout
        while reply is None or not idle:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{msg_type} on {self.user.name}'s kernel: no reply/idle in {timeout}s; got {[m['msg_type'] for m in iopub]}")
            self.ws.settimeout(left)
            got = json.loads(self.ws.recv())
            if got.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if got["channel"] == "shell":
                reply = got
            elif got["channel"] == "iopub":
                iopub.append(got)
                if got["msg_type"] == "status" and got["content"]["execution_state"] == "idle":
                    idle = True
        return reply, iopub

    def execute(self, code: str, timeout: float = 120) -> Run:
        reply, iopub = self.request(
            "execute_request",
            {"code": code, "silent": False, "store_history": True, "user_expressions": {},
             "allow_stdin": False, "stop_on_error": True},
            timeout,
        )
        return Run(reply["parent_header"]["msg_id"], reply, iopub)

    def ok(self, code: str) -> Run:
        run = self.execute(code)
        assert run.status == "ok", f"{self.user.name}: cell failed: {code[:300]!r}\n{run.describe()}"
        return run

    def shutdown(self) -> None:
        try:
            self.ws.close()
        finally:
            self.user.api("DELETE", f"/user/{self.user.name}/api/kernels/{self.id}")


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory, lakehouse_env, kernel_binary):  # noqa: ARG001
    h = Hub(tmp_path_factory.mktemp("jupyterhub"), lakehouse_env)
    try:
        yield h
    finally:
        h.stop()
        assert not h.leftovers, f"processes still running after the hub stopped (killed): {h.leftovers}"


@pytest.fixture(scope="module")
def users(hub: Hub):
    started: dict[str, User] = {}
    try:
        for name in LIMITS:
            started[name] = User(hub, name)
            started[name].start_server()
        yield started
    finally:
        for u in started.values():
            try:
                u.close()
            except Exception:  # noqa: BLE001 (the hub's shutdown stops them anyway)
                pass


@pytest.fixture(scope="module")
def kernels(users: dict[str, User]) -> dict[str, KernelSocket]:
    return {name: u.start_kernel() for name, u in users.items()}


# -- helpers ---------------------------------------------------------------------------------


def text(run: Run) -> str:
    return "\n".join(r.get("text/plain", "") for r in run.results)


def setting(run: Run, name: str) -> str | None:
    """The value column of SHOW SETTINGS' row `name` (from the aligned text table)."""
    for line in text(run).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] == name:
            return cells[1]
    return None


def count(run: Run) -> int:
    m = re.findall(r"^\|\s*(\d+)\s*\|\s*$", text(run), flags=re.M)
    assert m, text(run)
    return int(m[-1])


# -- tests -----------------------------------------------------------------------------------


def test_wrong_password_gets_no_token(hub: Hub) -> None:
    assert hub.login("alice", "not-the-password").status_code == 403
    assert hub.login("mallory").status_code == 403  # right password, but not an allowed user


def test_each_kernel_runs_in_its_users_server(hub: Hub, kernels: dict[str, KernelSocket]) -> None:
    for name, k in kernels.items():
        assert k.info["status"] == "ok" and k.info["language_info"]["name"] == "sql", k.info
        run = k.ok("SHOW SETTINGS")
        home = setting(run, "LAKEHOUSE_HOME")
        assert home == str(hub.data / "home" / name / "lakehouse"), text(run)
        assert setting(run, "LAKEHOUSE_CATALOG") == "nessie", text(run)


def test_spawner_hands_each_kernel_its_limits(hub: Hub, kernels: dict[str, KernelSocket]) -> None:
    """From outside: each kernel process got its user's MEM_LIMIT / CPU_LIMIT from the spawner."""
    found = {}
    for pid in marked_pids(hub.marker):
        try:
            # argv[0] is the kernelspec's absolute binary path (/proc/PID/exe would say
            # "(deleted)" if the binary was rebuilt meanwhile)
            argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            if Path(argv0).resolve() != BIN:
                continue
            env = dict(
                item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item
            )
        except OSError:
            continue
        user = Path(env["LAKEHOUSE_HOME"]).parent.name
        found[user] = (env.get("MEM_LIMIT"), env.get("CPU_LIMIT"))
    assert found == {name: (str(v["bytes"]), str(v["cpu_limit"])) for name, v in LIMITS.items()}


def test_each_kernel_reports_its_own_mem_limit(kernels: dict[str, KernelSocket]) -> None:
    seen = {}
    for name, k in kernels.items():
        run = k.ok("SHOW SETTINGS")
        value = setting(run, "MEM_LIMIT")
        assert value is not None, f"{name}: SHOW SETTINGS has no MEM_LIMIT row:\n{text(run)}"
        m = re.match(r"\d+", value.replace(",", "").replace("_", ""))
        assert m, f"{name}: MEM_LIMIT value does not start with a number of bytes: {value!r}"
        seen[name] = int(m.group())
        cpu = setting(run, "CPU_LIMIT")
        assert cpu is not None and float(re.match(r"[\d.]+", cpu).group()) == LIMITS[name]["cpu_limit"], text(run)
    assert seen == {name: v["bytes"] for name, v in LIMITS.items()}


def test_each_user_spills_to_their_own_folder(kernels: dict[str, KernelSocket]) -> None:
    dirs = {name: setting(k.ok("SHOW SETTINGS"), "LAKEHOUSE_SPILL_DIR") for name, k in kernels.items()}
    assert None not in dirs.values() and len(set(dirs.values())) == len(dirs), dirs


def test_branch_per_person(kernels: dict[str, KernelSocket]) -> None:
    a, b = kernels["alice"], kernels["bob"]
    tag = uuid.uuid4().hex[:8]
    branch, schema = f"a_features_{tag}", f"hub_{tag}"
    table = f"{schema}.customer_features"

    # The team's main has history (Nessie cannot merge a branch forked from a main without
    # commits: "No common ancestor", projectnessie/nessie#6447); on a fresh server it may not yet.
    b.ok("CREATE SCHEMA IF NOT EXISTS team")

    # Alice works on her own branch.
    run = a.ok(f"CREATE BRANCH {branch} FROM main; USE REFERENCE {branch}")
    assert f"Using branch {branch}" in run.stdout, run.describe()
    a.ok(
        f"""CREATE SCHEMA {schema};
        CREATE TABLE {table} (customer_id STRING, purchases BIGINT, total DOUBLE);
        INSERT INTO {table} VALUES ('c1', 2, 52.5), ('c2', 1, 40.0), ('c3', 0, 0.0);"""
    )
    assert count(a.ok(f"SELECT count(*) AS n FROM {table}")) == 3

    # Bob, on main, does not see it yet; on Alice's branch he does.
    run = b.execute(f"SELECT * FROM {table}")
    assert run.status == "error", run.describe()
    assert run.error["ename"] == "TableNotFound", run.error
    assert "ref main" in text(b.ok("SELECT 1 AS one")), "bob's session is not on main"

    # Alice merges; Bob's next query on main has the rows.
    run = a.ok(f"MERGE BRANCH {branch} INTO main")
    assert f"Merged {branch} into main" in run.stdout, run.describe()
    run = b.ok(f"SELECT customer_id, purchases, total FROM {table} ORDER BY customer_id")
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text(run).splitlines()[3:] if line.startswith("|")]
    assert rows == [["c1", "2", "52.5"], ["c2", "1", "40.0"], ["c3", "0", "0.0"]], text(run)
    assert "ref main" in text(run)
    a.ok(f"USE REFERENCE main; DROP BRANCH {branch}")


def test_other_users_branch_readable_by_name(kernels: dict[str, KernelSocket]) -> None:
    a, b = kernels["alice"], kernels["bob"]
    tag = uuid.uuid4().hex[:8]
    branch, schema = f"a_peek_{tag}", f"hub_{tag}"
    a.ok(f"CREATE BRANCH {branch} FROM main; USE REFERENCE {branch}")
    try:
        a.ok(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.t (x BIGINT); INSERT INTO {schema}.t VALUES (1), (2)")
        # Bob stays on main and reads Alice's branch by name.
        assert count(b.ok(f"SELECT count(*) AS n FROM {schema}.`t@{branch}`")) == 2
    finally:
        a.ok(f"USE REFERENCE main; DROP BRANCH {branch}")
