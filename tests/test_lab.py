"""JupyterLab, really: a real JupyterLab server and a headless Chromium driven by Playwright.

Opens Lab, clicks the "Lakehouse (SQL)" launcher tile, runs a SQL cell and checks the rendered
HTML table, then checks that Tab completion pops up suggestions from the kernel and that a
`%%sql --chart` cell is drawn as a Vega-Lite chart, and that the cellId Lab sends is the cell id
a commit's snapshot records (lineage). A screenshot is
saved to .cache/test-artifacts/lab.png. Needs Debian's chromium at /usr/bin/chromium
(tests/lib.sh `ensure_chromium` installs it) and the kernelspec that tests/run installs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path

import pytest

from conftest import REPO, kernel_env

CHROMIUM = Path(os.environ.get("LAKEHOUSE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = REPO / ".cache" / "test-artifacts"
DISPLAY_NAME = "Lakehouse (SQL)"  # kernelspec/kernel.json, as `install` fills it in
FIRST_KERNEL_START = 60_000  # ms
STEP = 30_000  # ms


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base: str, token: str, path: str, method: str = "GET", timeout: float = 5) -> tuple[int, bytes]:
    req = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    if method == "POST":
        req.data = b""
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Lab:
    """A JupyterLab server on 127.0.0.1 with a fresh root, settings and workspaces."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.token = os.urandom(16).hex()
        self.base = f"http://127.0.0.1:{self.port}"
        root, settings, workspaces = tmp / "root", tmp / "settings", tmp / "workspaces"
        for d in (root, settings, workspaces):
            d.mkdir(parents=True)
        # Fresh user settings: no "get notified about Jupyter news?" toast, no update check.
        notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True)
        notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        self.log_path = tmp / "jupyterlab.log"
        cmd = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
            "--ServerApp.terminals_enabled=False",
            f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}",
            # no announcements, update checks or extension-manager look-ups: nothing leaves the machine
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=kernel_env(tmp / "home"), stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_ready(60)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log_tail()}")
            with suppress(OSError):
                if _api(self.base, self.token, "/api/status", timeout=2)[0] == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"JupyterLab did not answer within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-n:]

    def kernels(self) -> list[dict]:
        status, body = _api(self.base, self.token, "/api/kernels")
        return json.loads(body) if status == 200 else []

    def stop(self) -> None:
        """Shut the kernels down, then the server; kill it if it lingers."""
        try:
            if self.proc.poll() is None:
                with suppress(OSError):
                    for k in self.kernels():
                        _api(self.base, self.token, f"/api/kernels/{k['id']}", method="DELETE", timeout=10)
                with suppress(OSError):
                    _api(self.base, self.token, "/api/shutdown", method="POST")
                try:
                    self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                    try:
                        self.proc.wait(10)
                    except subprocess.TimeoutExpired:
                        os.killpg(self.proc.pid, signal.SIGKILL)
                        self.proc.wait(5)
        finally:
            self.log.close()


@pytest.fixture
def lab(tmp_path, kernel_binary):  # noqa: ARG001
    server = Lab(tmp_path / "lab")
    yield server
    server.stop()


@pytest.fixture
def page(tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run tests/run (tests/lib.sh ensure_chromium installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
            headless=True, viewport={"width": 1400, "height": 900},
        )
        try:
            context.set_default_timeout(STEP)
            pg = context.pages[0] if context.pages else context.new_page()
            pg.console_messages = []  # type: ignore[attr-defined]
            pg.on("console", lambda m: pg.console_messages.append(f"{m.type}: {m.text}"))  # type: ignore[attr-defined]
            yield pg
        finally:
            context.close()


def _screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def _type_in_active_cell(page, text: str) -> None:
    editor = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell.jp-mod-active .cm-content")
    editor.click()
    page.keyboard.type(text)
    # Lab may close brackets and quotes as one types; the cell must hold what was typed.
    page.wait_for_function(
        """t => { const c = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active .cm-content');
                  return c && c.cmView ? c.cmView.view.state.doc.toString() === t : c && c.innerText.trim() === t }""",
        arg=text,
    )


def _open_notebook_on_the_kernel(lab, page):
    """Lab's launcher lists the kernelspec under "Notebook"; clicking it opens a notebook on that
    kernel. Returns the notebook's panel once the kernel is idle."""
    page.goto(f"{lab.base}/lab?token={lab.token}", wait_until="domcontentloaded", timeout=STEP)
    tile = page.locator('.jp-LauncherCard[data-category="Notebook"]', has_text=DISPLAY_NAME)
    tile.first.wait_for(state="visible", timeout=FIRST_KERNEL_START)
    tile.first.click()
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    panel.wait_for(state="visible")
    page.wait_for_function(
        """name => { const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
                    const k = p && p.querySelector('.jp-Toolbar-kernelName');
                    const i = p && p.querySelector('.jp-Notebook-ExecutionIndicator');
                    return !!k && k.textContent.trim() === name && !!i && i.dataset.status === 'idle'; }""",
        arg=DISPLAY_NAME, timeout=FIRST_KERNEL_START)
    return panel


def test_lab_runs_sql_and_completes(lab, page, capsys):
    t0 = time.monotonic()
    try:
        panel = _open_notebook_on_the_kernel(lab, page)
        kernels = lab.kernels()
        assert [k["name"] for k in kernels] == ["lakehouse"], kernels

        # Run a SQL cell; Shift+Enter runs it and moves to a new cell below.
        sql = "SELECT 41 + 1 AS answer, 'x<y' AS s"
        _type_in_active_cell(page, sql)
        page.keyboard.press("Shift+Enter")
        table = panel.locator(".jp-Cell").first.locator(".jp-OutputArea-output table")
        table.wait_for(state="visible", timeout=FIRST_KERNEL_START)
        headers = [h.strip() for h in table.locator("th").all_inner_texts()]
        assert any(h.startswith("answer") for h in headers), headers
        assert any(h.startswith("s") for h in headers), headers
        cells = [c.strip() for c in table.locator("td").all_inner_texts()]
        assert "42" in cells, cells
        # `<` is shown as text, not parsed as a tag.
        assert "x<y" in cells, cells
        assert table.locator("y").count() == 0
        assert "x&lt;y" in table.inner_html()
        assert panel.locator(".jp-Cell").first.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0

        # Completion: Tab after a prefix asks the kernel (complete_request); several matches -> popup.
        _type_in_active_cell(page, "SELECT abs")
        page.keyboard.press("Tab")
        completer = page.locator(".jp-Completer:not(.lm-mod-hidden)")
        completer.wait_for(state="visible")
        items = [i.strip() for i in completer.locator(".jp-Completer-item .jp-Completer-match").all_inner_texts()]
        assert "abs" in items and len(items) >= 2, items
        assert all(i.lower().startswith("abs") for i in items), items

        page.keyboard.press("Escape")

        # A chart: JupyterLab draws the Vega-Lite output (an SVG or canvas inside .vega-embed).
        page.keyboard.press("Escape")
        page.keyboard.press("b")
        _type_in_active_cell(page, "%%sql --chart bar --x k --y n\nSELECT 'a' AS k, 3 AS n UNION ALL SELECT 'b', 5")
        page.keyboard.press("Shift+Enter")
        chart = panel.locator(".jp-Cell").nth(2).locator(".jp-OutputArea-output .vega-embed")
        chart.wait_for(state="visible", timeout=STEP)
        chart.locator("svg, canvas").first.wait_for(state="visible", timeout=STEP)

        shot = _screenshot(page, "lab.png")
        with capsys.disabled():
            print(f"\n[lab] screenshot: {shot} ({time.monotonic() - t0:.1f}s in the browser)")
    except BaseException:
        with suppress(Exception):
            shot = _screenshot(page, "lab-failure.png")
            print(f"screenshot of the failure: {shot}")
        print("browser console:\n" + "\n".join(getattr(page, "console_messages", [])[-40:]))
        print("JupyterLab log:\n" + lab.log_tail())
        raise


def test_lab_cell_id_reaches_the_snapshot(lab, page):
    """The cellId Lab sends with execute_request is the lineage cell id of the commit, and the
    notebook is the one Lab opened (JPY_SESSION_NAME); see README, "Lineage"."""
    try:
        panel = _open_notebook_on_the_kernel(lab, page)
        _type_in_active_cell(page, "CREATE SCHEMA lab; CREATE TABLE lab.t (x BIGINT); INSERT INTO lab.t VALUES (1)")
        page.keyboard.press("Shift+Enter")
        panel.locator(".jp-Cell").first.locator(".jp-OutputArea-output", has_text="Inserted 1 row").wait_for(
            state="visible", timeout=FIRST_KERNEL_START)
        _type_in_active_cell(
            page, "SET lakehouse.max_col_width = 400;\n"
                  "SELECT summary['lakehouse.cell.id'] AS cell, summary['lakehouse.notebook'] AS nb FROM lab.t.snapshots")
        page.keyboard.press("Shift+Enter")
        table = panel.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output table")
        table.wait_for(state="visible", timeout=STEP)
        cell_id, notebook = [c.strip() for c in table.locator("td").all_inner_texts()][:2]
        # Save, then compare with the cell ids Lab wrote into the file.
        page.keyboard.press("Escape")
        page.keyboard.press("Control+s")
        # Lab asks for a name on the first save of an untitled notebook: keep the one it has.
        with suppress(Exception):
            page.locator(".jp-Dialog").wait_for(state="visible", timeout=5000)
            page.keyboard.press("Enter")
        path = lab_root = Path(lab.log_path).parent / "root"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            files = list(lab_root.glob("*.ipynb"))
            if files and json.loads(files[0].read_text() or "{}").get("cells"):
                path = files[0]
                break
            time.sleep(0.2)
        nb = json.loads(path.read_text())
        first = [c for c in nb["cells"] if c["cell_type"] == "code"][0]
        assert cell_id == first["id"], (cell_id, first)
        assert notebook == str(path), (notebook, path)
    except BaseException:
        print("JupyterLab log:\n" + lab.log_tail())
        raise
