"""The wheel, installed as Jupyter users install kernels: ``pip install`` into a fresh virtualenv.

The wheel is built by kernelspec/python/build_wheel.py from the binary under test (no second
compile), installed into a new venv with the Jupyter tools nbconvert and papermill users have,
and used from there with a PATH that has no cargo or rustc: the kernelspecs are found with no
other step, the quick-start notebook runs under nbconvert and papermill, and a ``%%rust`` cell
says what to install. With rustup's folder on PATH, Rust cells work from the same install, with
the default Rust cache (``~/.cache/lakehouse/rust``, beside ``~/.rustup``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from conftest import BIN, REPO

BUILDER = REPO / "kernelspec" / "python" / "build_wheel.py"
QUICKSTART = REPO / "examples" / "quickstart.ipynb"
# What the fresh venv gets beside the wheel, at the versions the suite pins (one definition).
CLIENT_TOOLS = ("nbconvert", "nbclient", "nbformat", "jupyter_client", "papermill", "jsonschema")
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def pinned(names: tuple[str, ...]) -> list[str]:
    pins = {}
    for line in (REPO / "tests" / "requirements.txt").read_text().splitlines():
        m = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if m:
            pins[m.group(1).lower().replace("-", "_")] = line.strip()
    return [pins[n.lower()] for n in names]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, kernel_binary) -> Path:  # noqa: ARG001
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(BUILDER), "--binary", str(BIN), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path.is_file(), proc.stdout
    return path


@dataclass
class Venv:
    """A fresh virtualenv with the wheel installed, and a clean environment to run it in."""

    root: Path
    home: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def env(self, *, rust: bool = False, **extra: str) -> dict[str, str]:
        """No cargo/rustc on PATH unless `rust`; none of the suite's Jupyter or kernel settings."""
        keep = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")
        env = {k: v for k, v in os.environ.items() if k in keep}
        path = f"{self.bin}:{SYSTEM_PATH}"
        if rust:
            cargo = shutil.which("cargo")
            assert cargo, "the suite needs cargo on PATH for the Rust half of this test"
            path = f"{path}:{Path(cargo).parent}"
        env.update(PATH=path, VIRTUAL_ENV=str(self.root), PYTHONDONTWRITEBYTECODE="1",
                   # a user-level kernelspec of the same name would win over the venv's
                   JUPYTER_DATA_DIR=str(self.home / "jupyter-data"),
                   JUPYTER_CONFIG_DIR=str(self.home / "jupyter-config"),
                   JUPYTER_RUNTIME_DIR=str(self.home / "jupyter-runtime"),
                   LAKEHOUSE_HOME=str(self.home / "lakehouse"),
                   LAKEHOUSE_CONFIG=str(self.home / "empty-config.toml"),
                   LAKEHOUSE_STARTUP_FILE="none")
        env.update(extra)
        return env

    def run(self, *args: str, rust: bool = False, timeout: float = 300, **extra: str):
        return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                              env=self.env(rust=rust, **extra), cwd=self.home)


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Venv:
    root = tmp_path_factory.mktemp("wheel-venv")
    home = tmp_path_factory.mktemp("wheel-home")
    v = Venv(root / "venv", home)
    (home / "empty-config.toml").write_text("")  # so no ~/.config/lakehouse/config.toml applies
    subprocess.run([sys.executable, "-m", "venv", str(v.root)], check=True, timeout=120)
    proc = subprocess.run([str(v.bin / "python"), "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", str(wheel), *pinned(CLIENT_TOOLS)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return v


def test_the_wheel_holds_a_stripped_binary_both_kernelspecs_and_the_translator(wheel):
    assert re.fullmatch(r"lakehouse_kernel-[0-9.]+-py3-none-(manylinux_\d+_\d+|linux)_x86_64\.whl",
                        wheel.name), wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        data = [n for n in names if ".data/" in n]
        exe = next(n for n in data if n.endswith(".data/scripts/lakehouse-kernel"))
        assert z.getinfo(exe).external_attr >> 16 & 0o111, "the binary is not executable in the wheel"
        specs = {n.split("/")[-2]: json.loads(z.read(n)) for n in data if n.endswith("/kernel.json")}
        assert set(specs) == {"lakehouse", "lakehouse-rust"}, data
        for name, spec in specs.items():
            # no path of the build machine: Jupyter's own python finds the environment's binary
            assert spec["argv"][:3] == ["python", "-m", "lakehouse_kernel_glue"], spec
            assert spec["interrupt_mode"] == "message"
        assert "--rust" in specs["lakehouse-rust"]["argv"]
        assert "lakehouse_kernel_glue/papermill_translator.py" in names
        entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "[papermill.engine]" in z.read(entry).decode()
        stripped = z.read(exe)
    # stripped: no symbol table section left
    assert b".symtab" not in stripped, "the binary in the wheel is not stripped"


def test_pip_install_gives_the_binary_and_kernelspecs_without_another_step(venv):
    assert shutil.which("cargo", path=venv.env()["PATH"]) is None
    assert shutil.which("rustc", path=venv.env()["PATH"]) is None
    exe = venv.bin / "lakehouse-kernel"
    assert exe.is_file() and os.access(exe, os.X_OK)
    assert shutil.which("lakehouse-kernel", path=venv.env()["PATH"]) == str(exe)
    proc = venv.run(str(venv.bin / "jupyter"), "kernelspec", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    specs = json.loads(proc.stdout)["kernelspecs"]
    for name, display in (("lakehouse", "Lakehouse (SQL)"), ("lakehouse-rust", "Lakehouse (Rust)")):
        assert name in specs, specs
        assert specs[name]["spec"]["display_name"] == display
        assert Path(specs[name]["resource_dir"]).is_relative_to(venv.root), specs[name]
    proc = venv.run("lakehouse-kernel", "--version")
    assert proc.returncode == 0 and "lakehouse-kernel" in proc.stdout, proc


def counts(nb: nbformat.NotebookNode) -> str:
    cell = next(c for c in nb.cells if c.cell_type == "code" and "GROUP BY event_type" in c.source)
    (result,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    return result.data["text/plain"]


def test_the_quickstart_runs_under_nbconvert_from_the_venv(venv):
    out = venv.home / "nbconvert"
    proc = venv.run(str(venv.bin / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                    "--ExecutePreprocessor.timeout=120", "--output-dir", str(out),
                    "--output", "quickstart.ipynb", str(QUICKSTART))
    assert proc.returncode == 0, proc.stderr[-4000:]
    nb = nbformat.read(out / "quickstart.ipynb", as_version=4)
    assert nb.metadata.kernelspec.name == "lakehouse"
    text = counts(nb)
    assert re.search(r"purchase\s+\|\s+\d+", text), text


def test_papermill_from_the_venv_injects_sql_parameters(venv):
    out = venv.home / "papermill.ipynb"
    proc = venv.run(str(venv.bin / "papermill"), str(QUICKSTART), str(out),
                    "-p", "event_type", "view", "-p", "min_amount", "0",
                    LAKEHOUSE_HOME=str(venv.home / "papermill-home"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    nb = nbformat.read(out, as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "SET event_type = 'view';" in injected.source, injected.source
    cell = next(c for c in nb.cells if c.cell_type == "code" and "$event_type" in c.source)
    (result,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    rows = [line for line in result.data["text/plain"].splitlines() if "| view" in line]
    assert rows, result.data["text/plain"]


def rust_notebook(path: Path, code: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "lakehouse", "display_name": "Lakehouse (SQL)", "language": "sql"}
    nb.cells = [nbformat.v4.new_code_cell("SELECT 1 AS one"), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)
    return path


def test_a_rust_cell_without_a_toolchain_says_what_to_install(venv):
    nb_path = rust_notebook(venv.home / "rust-missing.ipynb", "%%rust\nprintln!(\"hi\");")
    out = venv.home / "rust-missing.out.ipynb"
    proc = venv.run(str(venv.bin / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                    "--allow-errors", "--output", str(out), str(nb_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    nb = nbformat.read(out, as_version=4)
    assert nb.cells[0].outputs[0]["output_type"] == "execute_result"  # SQL cells work
    (err,) = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert err.ename == "RustUnavailable", err
    assert "rustup" in err.evalue and "cargo" in err.evalue and "rustc" in err.evalue, err.evalue


def test_rust_cells_work_from_the_wheel_with_the_default_rust_cache(venv):
    # The suite's own kernels may use a LAKEHOUSE_RUST_CACHE of the caller's; this one has the
    # default, ~/.cache/lakehouse/rust, beside rustup's ~/.rustup: the layout in which the
    # relative RUNPATH of evcxr's cell libraries missed libstd.
    default_cache = Path.home() / ".cache" / "lakehouse" / "rust"
    rustup = Path(os.environ.get("RUSTUP_HOME", Path.home() / ".rustup"))
    assert rustup.is_dir() and os.path.commonpath([default_cache, rustup]) != "/"
    nb_path = rust_notebook(venv.home / "rust.ipynb",
                            '%%rust\nlet f = sql("SELECT 20 + 22 AS answer")?;\n'
                            'println!("answer={}", f.primitive::<Int64Type>("answer")?.value(0));')
    out = venv.home / "rust.out.ipynb"
    proc = venv.run(str(venv.bin / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                    "--ExecutePreprocessor.timeout=900", "--output", str(out), str(nb_path),
                    rust=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    nb = nbformat.read(out, as_version=4)
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    assert "answer=42" in text, nb.cells[1].outputs


HUB_RECIPE = REPO / "kernelspec" / "jupyterhub"


def dockerfile_run_steps(dockerfile: Path) -> list[str]:
    """The RUN instructions of a Dockerfile (continuations joined, comments dropped)."""
    steps, current = [], None
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if current is None:
            if stripped.startswith("RUN "):
                current = stripped[4:]
            else:
                continue
        else:
            current += " " + stripped
        if current.endswith("\\"):
            current = current[:-1]
        else:
            steps.append(current)
            current = None
    return steps


def test_the_dockerfiles_run_steps_install_the_kernel_into_the_environment(wheel, tmp_path):
    # No Docker engine here: the image's RUN steps run as a script in a fresh venv standing in
    # for base-notebook's conda environment (which has jupyter_core, hence `jupyter`).
    steps = dockerfile_run_steps(HUB_RECIPE / "Dockerfile")
    assert steps and "pip install" in steps[0] and "--user" not in steps[0], steps
    env_root = tmp_path / "opt-conda"
    subprocess.run([sys.executable, "-m", "venv", str(env_root)], check=True, timeout=120)
    proc = subprocess.run([str(env_root / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                           *pinned(("jupyter_client",))], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = tmp_path / "tmp-wheels"  # the image's COPY destination
    wheels.mkdir()
    shutil.copy(wheel, wheels)
    script = "set -e\n" + "\n".join(s.replace("/tmp/wheels", str(wheels)) for s in steps)
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": f"{env_root / 'bin'}:{SYSTEM_PATH}", "HOME": str(home), "LANG": "C.UTF-8"}
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "lakehouse-rust" in proc.stdout and "lakehouse-kernel" in proc.stdout, proc.stdout
    spec_dir = env_root / "share" / "jupyter" / "kernels" / "lakehouse"
    assert (spec_dir / "kernel.json").is_file(), proc.stdout
    in_home = [p for p in home.rglob("*") if p.name in ("kernel.json", "lakehouse-kernel")]
    assert not in_home, f"installed into the user's home, not the environment: {in_home}"
    assert not wheels.exists(), "the RUN step leaves the wheel in the image"


def test_the_hub_snippet_sets_limits_and_catalog_for_every_user():
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("jupyterhub_config.py", path=str(HUB_RECIPE)).load_config()
    assert cfg.Spawner.mem_limit and cfg.Spawner.cpu_limit, cfg.Spawner
    env = cfg.Spawner.environment
    for key in ("NESSIE_URI", "NESSIE_REF", "LAKEHOUSE_WAREHOUSE", "AWS_ENDPOINT_URL",
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert key in env, key
    # the hub's environment supplies the secret; the file holds none
    text = (HUB_RECIPE / "jupyterhub_config.py").read_text()
    assert re.search(r'"AWS_SECRET_ACCESS_KEY":\s*os\.environ', text), text
