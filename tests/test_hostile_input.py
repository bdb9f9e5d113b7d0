"""Hostile or broken input on the kernel's sockets (issue 20, section 0).

Any local user can reach a kernel's loopback ports without its key. Nothing they send may
abort the process, stop the heartbeat or stall another socket: frames beyond the stated
maximum message size (64 MiB) are refused by closing that one connection.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import zmq

from conftest import Kernel

# A ZMTP 3.0 greeting with the NULL mechanism, as any ZeroMQ peer sends first.
GREETING = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31
assert len(GREETING) == 64
MAX_MESSAGE = 64 << 20
CHANNELS = ("shell", "control", "stdin", "iopub", "hb")


def ports(k: Kernel) -> dict[str, int]:
    info = k.km.get_connection_info()
    return {c: int(info[f"{c}_port"]) for c in CHANNELS}


def closed_by_peer(s: socket.socket, timeout: float = 5) -> bool:
    """True once the kernel closes the connection (whatever it sent before, e.g. its greeting)."""
    s.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def send_hostile(connect, payload: bytes) -> bool:
    """Opens a raw connection, sends the greeting and `payload`; True if the kernel hung up."""
    s = connect()
    try:
        s.sendall(GREETING + payload)
        return closed_by_peer(s)
    finally:
        s.close()


def heartbeat_echoes(ctx: zmq.Context, url: str, timeout_ms: int = 2000) -> bool:
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(url)
    try:
        req.send(b"ping-check")
        if not req.poll(timeout_ms):
            return False
        return req.recv() == b"ping-check"
    finally:
        req.close()


def assert_serves(k: Kernel, hb_url: str) -> None:
    """kernel_info answers, a SQL cell runs, the heartbeat echoes."""
    k.assert_alive()
    run = k.ok("SELECT 1 AS one")
    assert "1" in run.results[-1]["text/plain"]
    ctx = zmq.Context.instance()
    assert heartbeat_echoes(ctx, hb_url), "the heartbeat no longer echoes"


def long_frame(flags: int, length: int) -> bytes:
    return bytes([flags | 0x02]) + length.to_bytes(8, "big")


def test_a_huge_frame_length_is_refused_on_every_socket(kernel: Kernel) -> None:
    # Before: greeting + 0x06 + 2^62 aborted the process (SIGABRT in the zeromq crate's decoder).
    p = ports(kernel)
    hb_url = f"tcp://127.0.0.1:{p['hb']}"
    for channel, port in p.items():
        for flags, length in [(0x04, 1 << 62), (0x00, 1 << 62), (0x01, MAX_MESSAGE + 1)]:
            hung_up = send_hostile(lambda: socket.create_connection(("127.0.0.1", port), timeout=5),
                                   long_frame(flags, length))
            assert hung_up, f"{channel}: the connection announcing {length} bytes stayed open"
            assert kernel.km.is_alive(), f"the kernel died on a {length}-byte frame on {channel}"
    # Frames of several messages count separately; garbage is refused too.
    for port in (p["shell"], p["hb"]):
        assert send_hostile(lambda: socket.create_connection(("127.0.0.1", port), timeout=5), b"\xf8\x00")
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert closed_by_peer(s)
        s.close()
    assert_serves(kernel, hb_url)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_flood_of_connections_cannot_run_the_kernel_out_of_descriptors(kernel: Kernel) -> None:
    # Each connection costs the kernel three descriptors: the peer's, and both ends of its
    # relay's Unix connection to zeromq (zeromq listens in the same process).
    # Before: every one was served, so a local user opening thousands exhausted the process's
    # descriptors (and then its tables could not open a file). Now each socket serves at most
    # 64 at once and closes the rest at once.
    p = ports(kernel)
    pid = kernel.km.provisioner.process.pid
    before = open_fds(pid)
    held = []
    try:
        for _ in range(300):
            held.append(socket.create_connection(("127.0.0.1", p["stdin"]), timeout=5))
        time.sleep(1.0)
        during = open_fds(pid)
        assert during - before <= 3 * 64 + 8, f"{during - before} descriptors for 300 connections"
        # The ones beyond the cap were closed by the kernel.
        refused = sum(closed_by_peer(s, timeout=0.05) for s in held[-50:])
        assert refused == 50, f"only {refused} of the last 50 connections were closed"
        # Other sockets are unaffected while the flood holds.
        hb_url = f"tcp://127.0.0.1:{p['hb']}"
        assert_serves(kernel, hb_url)
    finally:
        for s in held:
            s.close()
    # Once the flood is gone the socket serves again.
    time.sleep(0.5)
    s = socket.create_connection(("127.0.0.1", p["stdin"]), timeout=5)
    try:
        s.sendall(GREETING)
        s.settimeout(5)
        assert s.recv(64), "no greeting from the kernel's stdin socket after the flood"
    finally:
        s.close()


def ready_command(socket_type: bytes) -> bytes:
    body = b"\x05READY" + b"\x0bSocket-Type" + len(socket_type).to_bytes(4, "big") + socket_type
    return bytes([0x04, len(body)]) + body


def test_a_peer_gone_in_the_middle_of_a_frame_stalls_nothing(kernel: Kernel) -> None:
    # The zeromq crate reports a stream that ends inside a frame as an error on every later
    # poll: its REP socket returned it from every recv (before: the heartbeat loop ended on the
    # first; with that fixed alone, a busy loop). The front completes the frame before it closes.
    p = ports(kernel)
    for channel, socket_type in [("shell", b"DEALER"), ("control", b"DEALER"), ("hb", b"REQ"), ("iopub", b"SUB")]:
        s = socket.create_connection(("127.0.0.1", p[channel]), timeout=5)
        s.sendall(GREETING + ready_command(socket_type))
        time.sleep(0.2)
        # A frame announcing 1000 bytes (and one split inside its length), then the peer leaves.
        s.sendall(b"\x01\x00" + b"\x02" + (1000).to_bytes(8, "big") + b"x" * 10)
        time.sleep(0.2)
        s.close()
        s = socket.create_connection(("127.0.0.1", p[channel]), timeout=5)
        s.sendall(GREETING + ready_command(socket_type) + b"\x02" + (1000).to_bytes(8, "big")[:3])
        time.sleep(0.2)
        s.close()
    assert_serves(kernel, f"tcp://127.0.0.1:{p['hb']}")
    # Nor does it spin: the socket thread is idle again.
    cpu = kernel_cpu_seconds(kernel)
    time.sleep(1)
    assert kernel_cpu_seconds(kernel) - cpu < 0.5, "the kernel keeps a core busy after the peers left"


def kernel_cpu_seconds(k: Kernel) -> float:
    pid = k.km.provisioner.pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_large_message_within_the_limit_still_works(kernel: Kernel) -> None:
    # The relay passes big frames through in pieces: a 4 MiB cell runs.
    n = 4 << 20
    run = kernel.ok(f"SELECT length('{'x' * n}') AS n", timeout=120)
    assert str(n) in run.results[-1]["text/plain"]


def test_heartbeat_survives_bad_input(kernel: Kernel) -> None:
    # Before: a DEALER's one-frame b"ping" ended the heartbeat loop for good.
    p = ports(kernel)
    url = f"tcp://127.0.0.1:{p['hb']}"
    ctx = zmq.Context.instance()
    assert heartbeat_echoes(ctx, url)
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 1000)
    dealer.connect(url)
    for _ in range(3):
        dealer.send(b"ping")
    time.sleep(0.3)
    dealer.close()
    assert heartbeat_echoes(ctx, url), "a DEALER's ping stopped the heartbeat"
    # A peer that leaves before its echo: the echo fails, the next peers still get theirs.
    for _ in range(5):
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 1000)
        req.connect(url)
        req.send(b"gone")
        req.close()
    time.sleep(0.3)
    for _ in range(3):
        assert heartbeat_echoes(ctx, url), "a peer that left before its echo stopped the heartbeat"
    assert_serves(kernel, url)


def test_history_search_with_a_pathological_pattern_answers(kernel: Kernel) -> None:
    # Before: this search backtracked exponentially on the socket thread under the state lock,
    # and heartbeat, control and shell all stopped answering.
    cell = "SELECT 1 AS one -- " + "abcdef" * 340
    assert len(cell) > 2000
    kernel.ok(cell)
    p = ports(kernel)
    hb_url = f"tcp://127.0.0.1:{p['hb']}"
    ctx = zmq.Context.instance()

    beats: list[bool] = []

    def heartbeat_during_search() -> None:
        time.sleep(0.05)
        beats.append(heartbeat_echoes(ctx, hb_url, timeout_ms=1000))

    t = threading.Thread(target=heartbeat_during_search)
    started = time.monotonic()
    t.start()
    reply, _ = kernel.request("history_request", {"hist_access_type": "search", "pattern": "*a*b*c*d*e*f*q",
                                                  "output": False, "raw": True, "n": 10, "unique": False},
                              timeout=10)
    took = time.monotonic() - started
    t.join()
    assert reply["content"]["status"] == "ok", reply["content"]
    assert reply["content"]["history"] == []
    assert took < 2, f"the search took {took:.1f} s"
    assert beats == [True], "the heartbeat did not answer during the search"

    reply, _ = kernel.request("history_request", {"hist_access_type": "search", "pattern": "*a*b*c*d*e*f*",
                                                  "output": False, "raw": True, "n": 10, "unique": True})
    assert [h[2] for h in reply["content"]["history"]] == [cell]

    reply, _ = kernel.request("history_request", {"hist_access_type": "search", "pattern": "*a" * 600,
                                                  "output": False, "raw": True, "n": 10, "unique": False})
    content = reply["content"]
    assert content["status"] == "error" and content["ename"] == "HistorySearchError", content
    assert "limit of 1000" in content["evalue"]
    assert_serves(kernel, hb_url)


def test_ipc_sockets_are_private_and_refuse_huge_frames(tmp_path: Path) -> None:
    from jupyter_client.manager import KernelManager

    from conftest import KERNEL_NAME, kernel_env

    km = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(tmp_path / "k"))
    km.start_kernel(env=kernel_env(tmp_path / "home"))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        info = km.get_connection_info()
        files = [Path(f"{info['ip']}-{info[f'{c}_port']}") for c in CHANNELS]
        for f in files:
            mode = f.stat().st_mode & 0o777
            assert mode == 0o600, f"{f} has mode {mode:o}, not 600"
        # No staging folder was left beside them.
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".lh")]

        def connect_shell() -> socket.socket:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(str(files[0]))
            return s

        assert send_hostile(connect_shell, long_frame(0x04, 1 << 62))
        assert km.is_alive()
        reply = kc.execute_interactive("SELECT 40 + 2 AS answer", timeout=60)
        assert reply["content"]["status"] == "ok"
        assert heartbeat_echoes(zmq.Context.instance(), f"ipc://{files[4]}")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
