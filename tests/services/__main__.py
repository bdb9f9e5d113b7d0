"""CLI: python -m tests.services start|stop|status [--nessie] [--s3]

Run from the repo root. With neither flag, both servers are meant. `start` and
`status` print `export NAME=value` lines on stdout (progress goes to stderr), so

    eval "$(python -m tests.services start)"

sets NESSIE_URI, NESSIE_REF, AWS_*, LAKEHOUSE_WAREHOUSE, ... in the shell.
`stop` prints matching `unset` lines. Servers started here keep running after the
command returns; their pids, ports and keys are kept in .cache/services/state.json.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import shlex
import shutil
import sys
from pathlib import Path

from ._common import STATE_DIR, ServiceError, http_request, log, pid_alive, pid_cmdline, terminate
from .nessie import NessieServer
from .seaweedfs import S3Endpoint, S3Server

STATE_FILE = STATE_DIR / "state.json"
NESSIE_MARKER = "-Dlakehouse.service=nessie"


@contextlib.contextmanager
def _locked_state():
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(STATE_DIR / "state.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(STATE_FILE.read_text()) if STATE_FILE.exists() else {}
        try:
            yield state
        finally:  # also when a start failed half-way: keep what did start
            tmp = STATE_FILE.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=2))
            tmp.chmod(0o600)
            tmp.replace(STATE_FILE)


def _marker(name: str, entry: dict) -> str:
    return NESSIE_MARKER if name == "nessie" else f"-dir={entry['data_dir']}/data"


def _alive(name: str, entry: dict | None) -> bool:
    return bool(entry) and pid_alive(entry["pid"]) and _marker(name, entry) in pid_cmdline(entry["pid"])


def _healthy(name: str, entry: dict) -> bool:
    url = entry["env"]["NESSIE_URI"] + "/config" if name == "nessie" else entry["info"]["endpoint"] + "/healthz"
    try:
        return http_request(url, timeout=3)[0] == 200
    except OSError:
        return False


def _cleanup(name: str, entry: dict) -> None:
    key = "run_dir" if name == "nessie" else "data_dir"
    if entry.get(key) and entry[key] != "None":
        shutil.rmtree(entry[key], ignore_errors=True)


def _env_of(name: str, entry: dict) -> dict:
    return entry["env"] if name == "nessie" else S3Endpoint(**entry["info"]).env()


def _print_exports(state: dict, names: list[str]) -> None:
    env: dict[str, str] = {}
    for name in ("s3", "nessie"):
        if name in names and _alive(name, state.get(name)):
            env.update(_env_of(name, state[name]))
    for k, v in env.items():
        print(f"export {k}={shlex.quote(v)}")


def _prune(state: dict) -> None:
    for name in ("s3", "nessie"):
        entry = state.get(name)
        if entry and not _alive(name, entry):
            log(f"{name}: recorded pid {entry['pid']} is gone; forgetting it")
            _cleanup(name, entry)
            del state[name]


def cmd_start(names: list[str], nessie_properties: dict[str, str]) -> int:
    with _locked_state() as state:
        _prune(state)
        if "s3" in names:
            if "s3" in state:
                log(f"s3: already running (pid {state['s3']['pid']})")
            else:
                s3 = S3Server(die_with_parent=False).start()
                state["s3"] = s3.to_state()
        if "nessie" in names:
            if "nessie" in state:
                log(f"nessie: already running (pid {state['nessie']['pid']})")
                if "s3" in state and "AWS_ENDPOINT_URL" not in state["nessie"]["env"]:
                    log("nessie: note: it was started without S3; stop it and start again to use the S3 warehouse")
            else:
                s3_info = S3Endpoint(**state["s3"]["info"]) if "s3" in state else None
                nessie = NessieServer(s3=s3_info, extra_properties=nessie_properties,
                                      die_with_parent=False).start()
                state["nessie"] = nessie.to_state()
        _print_exports(state, ["s3", "nessie"])
    return 0


def cmd_stop(names: list[str]) -> int:
    with _locked_state() as state:
        stopped: dict[str, str] = {}
        for name in ("nessie", "s3"):  # Nessie first: it uses S3
            if name not in names or name not in state:
                continue
            entry = state.pop(name)
            if _alive(name, entry):
                log(f"{name}: stopping pid {entry['pid']}")
                terminate(entry["pid"], timeout=30, marker=_marker(name, entry))
            _cleanup(name, entry)
            stopped.update(_env_of(name, entry))
        # Keep the variables that a server still running provides.
        still = {k for name, entry in state.items() if _alive(name, entry) for k in _env_of(name, entry)}
        for k in stopped:
            if k not in still:
                print(f"unset {k}")
    return 0


def cmd_status(names: list[str]) -> int:
    ok = True
    with _locked_state() as state:
        for name in names:
            entry = state.get(name)
            if not _alive(name, entry):
                log(f"{name}: not running")
                ok = False
                continue
            healthy = _healthy(name, entry)
            ok &= healthy
            log(f"{name}: pid {entry['pid']} {'healthy' if healthy else 'NOT answering'}; log {entry['log']}")
        _print_exports(state, names)
    return 0 if ok else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.services", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--nessie", action="store_true", help="the Nessie server")
    parser.add_argument("--s3", action="store_true", help="the S3 server (SeaweedFS)")
    parser.add_argument("--nessie-property", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Nessie/Quarkus property (repeatable), e.g. "
                             "nessie.catalog.service.s3.default-options.request-signing-enabled=false")
    args = parser.parse_args(argv)
    props = {}
    for item in args.nessie_property:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--nessie-property needs KEY=VALUE, got {item!r}")
        props[key.strip()] = value
    names = [n for n, flag in (("s3", args.s3), ("nessie", args.nessie)) if flag] or ["s3", "nessie"]
    try:
        if args.command == "start":
            return cmd_start(names, props)
        return {"stop": cmd_stop, "status": cmd_status}[args.command](names)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
