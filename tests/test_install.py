"""The command line: install / uninstall of the kernelspec, --version, --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import REPO


def cli(binary: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(binary), *args], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode != 101, f"panicked: {proc.stderr}"
    if check:
        assert proc.returncode == 0, f"{args} exited {proc.returncode}: {proc.stderr}"
    return proc


def spec_dir(prefix: Path, name: str = "lakehouse") -> Path:
    return prefix / "share" / "jupyter" / "kernels" / name


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("JUPYTER") and k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "XDG_DATA_HOME")}
    env.update(extra)
    return env


def kernelspecs_seen_by_jupyter(env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
                          capture_output=True, text=True, env=env, timeout=60, check=True)
    return json.loads(proc.stdout)["kernelspecs"]


def test_install_prefix_writes_kernel_json(kernel_binary, tmp_path):
    cli(kernel_binary, "install", "--prefix", str(tmp_path))
    d = spec_dir(tmp_path)
    spec = json.loads((d / "kernel.json").read_text())
    assert spec["argv"] == [str(kernel_binary), "run", "--connection-file", "{connection_file}"]
    assert Path(spec["argv"][0]).is_absolute()
    assert spec["display_name"] == "Lakehouse (SQL)"
    assert spec["language"] == "sql"
    assert spec["interrupt_mode"] == "message"
    # the pure-Rust zeromq has no CurveZMQ: the spec must not offer it
    assert "supported_encryption" not in json.dumps(spec.get("metadata", {}))
    logos = sorted(p.name for p in d.iterdir() if p.name.startswith("logo-"))
    assert logos, f"no logo in {list(d.iterdir())}"
    for logo in d.glob("logo-*.png"):
        assert logo.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", logo
    # jupyter finds it there
    specs = kernelspecs_seen_by_jupyter(clean_env(JUPYTER_PATH=str(tmp_path / "share" / "jupyter")))
    assert specs["lakehouse"]["spec"]["display_name"] == "Lakehouse (SQL)"


def test_install_is_idempotent_and_uninstall_removes(kernel_binary, tmp_path):
    cli(kernel_binary, "install", "--prefix", str(tmp_path))
    cli(kernel_binary, "install", "--prefix", str(tmp_path))
    assert (spec_dir(tmp_path) / "kernel.json").exists()
    cli(kernel_binary, "uninstall", "--prefix", str(tmp_path))
    assert not spec_dir(tmp_path).exists()
    # a second uninstall says so (any exit code) without panicking
    proc = cli(kernel_binary, "uninstall", "--prefix", str(tmp_path), check=False)
    assert proc.returncode == 0 or proc.stderr.strip()


def test_install_name_and_display_name(kernel_binary, tmp_path):
    cli(kernel_binary, "install", "--prefix", str(tmp_path), "--name", "lake2", "--display-name", "Lake Two")
    spec = json.loads((spec_dir(tmp_path, "lake2") / "kernel.json").read_text())
    assert spec["display_name"] == "Lake Two"
    assert not spec_dir(tmp_path).exists()
    cli(kernel_binary, "uninstall", "--prefix", str(tmp_path), "--name", "lake2")
    assert not spec_dir(tmp_path, "lake2").exists()


def test_install_sys_prefix_uses_virtual_env(kernel_binary, tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    cli(kernel_binary, "install", "--sys-prefix", env=clean_env(VIRTUAL_ENV=str(venv)))
    assert (spec_dir(venv) / "kernel.json").exists()
    cli(kernel_binary, "uninstall", "--sys-prefix", env=clean_env(VIRTUAL_ENV=str(venv)))
    assert not spec_dir(venv).exists()


@pytest.mark.parametrize("with_data_dir", [False, True])
def test_install_user_goes_where_jupyter_looks(kernel_binary, tmp_path, with_data_dir):
    extra = {"HOME": str(tmp_path / "home")}
    if with_data_dir:
        extra["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter-data")
    env = clean_env(**extra)
    name = "lakehouse-user-test"  # a name no other installed kernelspec shadows
    cli(kernel_binary, "install", "--user", "--name", name, env=env)
    specs = kernelspecs_seen_by_jupyter(env)
    assert name in specs, specs
    assert Path(specs[name]["resource_dir"]).is_relative_to(tmp_path)
    cli(kernel_binary, "uninstall", "--user", "--name", name, env=env)
    assert name not in kernelspecs_seen_by_jupyter(env)


def test_version(kernel_binary):
    version = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    out = cli(kernel_binary, "--version").stdout
    assert version in out and "lakehouse-kernel" in out, out


def test_help(kernel_binary):
    out = cli(kernel_binary, "--help").stdout
    for word in ("install", "uninstall", "run"):
        assert word in out, out


def test_unknown_subcommand_fails_cleanly(kernel_binary):
    proc = cli(kernel_binary, "no-such-command", check=False)
    assert proc.returncode not in (0, 101) and proc.stderr.strip()


def test_run_with_missing_connection_file_fails_cleanly(kernel_binary, tmp_path):
    proc = cli(kernel_binary, "run", "--connection-file", str(tmp_path / "missing.json"), check=False)
    assert proc.returncode not in (0, 101)
    assert "missing.json" in proc.stderr, proc.stderr


def test_run_refuses_unknown_signature_scheme(kernel_binary, tmp_path):
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps({
        "shell_port": 0, "iopub_port": 0, "stdin_port": 0, "control_port": 0, "hb_port": 0,
        "ip": "127.0.0.1", "key": "abc", "transport": "tcp", "signature_scheme": "hmac-md5",
    }))
    env = clean_env(LAKEHOUSE_HOME=str(tmp_path / "home"))
    proc = subprocess.run([str(kernel_binary), "run", "--connection-file", str(conn)],
                          capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode not in (0, 101), proc
    assert "hmac-md5" in proc.stderr, proc.stderr
