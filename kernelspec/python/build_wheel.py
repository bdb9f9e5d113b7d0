#!/usr/bin/env python3
"""Builds the ``lakehouse-kernel`` wheel from an already built release binary.

    python kernelspec/python/build_wheel.py [--binary PATH] [--out DIR]

The wheel holds, as Jupyter kernels are shipped with pip (ruff and uv ship their binaries the
same way):

- ``bin/lakehouse-kernel``: the binary, stripped (a wheel script);
- ``share/jupyter/kernels/lakehouse`` and ``lakehouse-rust``: both kernelspecs as data files,
  so ``jupyter kernelspec list`` shows them in the environment at once; their argv is
  ``python -m lakehouse_kernel_glue``, which works wherever the environment is;
- the ``lakehouse_kernel_glue`` package: that launcher and the papermill translator (its
  ``papermill.engine`` entry point comes from ``pyproject.toml`` beside this file).

It packages the binary the tests ran (``$CARGO_TARGET_DIR/release/lakehouse-kernel``, default
``~/.cache/lakehouse/target``) rather than compiling again: maturin would run its own cargo
build, and its manylinux_2_28 route (``--zig``) a second build of every dependency for
another target. The kernelspecs are written by the binary itself (``install
--python-launcher``), so kernel.json is defined in one place. ``wheel pack`` (pypa's wheel)
writes the archive and its RECORD; ``auditwheel show`` names the manylinux tag the binary's
glibc symbols and libraries allow, which replaces ``linux_x86_64`` when there is one.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = None

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DIST_NAME = "lakehouse-kernel"
PACKAGE = "lakehouse_kernel_glue"
BINARY = "lakehouse-kernel"


def default_binary() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache/lakehouse/target")
    return Path(target) / "release" / BINARY


def load_toml(path: Path) -> dict:
    if tomllib is None:
        sys.exit("build_wheel.py needs Python 3.11+ (tomllib)")
    return tomllib.loads(path.read_text())


def metadata(version: str, project: dict) -> str:
    readme = (HERE / "WHEEL_README.md").read_text()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {DIST_NAME}",
        f"Version: {version}",
        "Summary: A Jupyter kernel for SQL and Rust cells on an Iceberg lakehouse "
        "(DataFusion, iceberg-rust, Nessie)",
        "License: Apache-2.0",
        f"Requires-Python: {project.get('requires-python', '>=3.9')}",
        "Classifier: Framework :: Jupyter",
        "Classifier: Programming Language :: Rust",
        "Classifier: Programming Language :: SQL",
        "Classifier: Operating System :: POSIX :: Linux",
        # The kernel needs no Python package; papermill's translator only papermill.
        "Provides-Extra: papermill",
        *(f'Requires-Dist: {dep}; extra == "papermill"' for dep in project.get("dependencies", [])),
        "Description-Content-Type: text/markdown",
        "",
        readme,
    ]
    return "\n".join(lines)


def entry_points(project: dict) -> str:
    out = []
    for group, entries in project.get("entry-points", {}).items():
        out.append(f"[{group}]")
        out.extend(f"{name} = {target}" for name, target in entries.items())
        out.append("")
    return "\n".join(out)


def platform_tag() -> str:
    machine = platform.machine()
    if sys.platform != "linux":
        sys.exit(f"build_wheel.py builds Linux wheels; this is {sys.platform}")
    return f"linux_{machine}"


def manylinux_tag(wheel: Path) -> str | None:
    """The most compatible manylinux tag auditwheel finds the wheel consistent with."""
    proc = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"auditwheel show failed ({proc.returncode}); keeping the plain linux tag:\n"
              f"{proc.stdout}{proc.stderr}", file=sys.stderr)
        return None
    text = " ".join(proc.stdout.split())
    m = re.search(r'consistent with the following platform tag: "([^"]+)"', text)
    return m.group(1) if m and m.group(1).startswith("manylinux") else None


def build(binary: Path, out: Path) -> Path:
    if not binary.is_file():
        sys.exit(f"no binary at {binary}: build it first (cargo build --release, or tests/run)")
    version = load_toml(REPO / "Cargo.toml")["workspace"]["package"]["version"]
    project = load_toml(HERE / "pyproject.toml")["project"]
    name_ver = f"{DIST_NAME.replace('-', '_')}-{version}"
    with tempfile.TemporaryDirectory(prefix="lakehouse-wheel-") as tmp:
        root = Path(tmp) / name_ver
        # The Python package: the launcher and the papermill translator.
        shutil.copytree(HERE / PACKAGE, root / PACKAGE,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        # The binary, stripped, as a script: pip puts it in the environment's bin/.
        scripts = root / f"{name_ver}.data" / "scripts"
        scripts.mkdir(parents=True)
        exe = scripts / BINARY
        subprocess.run(["strip", "--strip-all", "-o", str(exe), str(binary)], check=True)
        exe.chmod(0o755)
        # The kernelspecs, written by the binary itself.
        prefix = Path(tmp) / "prefix"
        subprocess.run([str(exe), "install", "--prefix", str(prefix), "--python-launcher",
                        "--no-prepare"], check=True, capture_output=True, text=True)
        shutil.copytree(prefix / "share", root / f"{name_ver}.data" / "data" / "share")
        info = root / f"{name_ver}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(metadata(version, project))
        (info / "entry_points.txt").write_text(entry_points(project))
        (info / "WHEEL").write_text(
            "Wheel-Version: 1.0\n"
            "Generator: lakehouse-kernel build_wheel.py\n"
            "Root-Is-Purelib: false\n"
            f"Tag: py3-none-{platform_tag()}\n"
        )
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "wheel", "pack", "--dest-dir", str(out), str(root)],
                       check=True, stdout=subprocess.DEVNULL)
    wheel = out / f"{name_ver}-py3-none-{platform_tag()}.whl"
    if not wheel.is_file():
        sys.exit(f"wheel pack did not write {wheel}")
    tag = manylinux_tag(wheel)
    if tag:
        proc = subprocess.run([sys.executable, "-m", "wheel", "tags", "--remove",
                               "--platform-tag", tag, str(wheel)],
                              check=True, capture_output=True, text=True)
        wheel = out / proc.stdout.strip().splitlines()[-1]
    return wheel


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", type=Path, default=default_binary(),
                    help="the release binary to package (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=HERE / "dist",
                    help="folder for the wheel (default: %(default)s)")
    args = ap.parse_args()
    wheel = build(args.binary.resolve(), args.out.resolve())
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
