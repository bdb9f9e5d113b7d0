"""The kernel over IPC transport (the alternative ipykernel recommends to plain TCP)."""

from __future__ import annotations

from pathlib import Path

from conftest import KERNEL_NAME, kernel_env


def test_ipc_transport_runs_a_cell(tmp_path: Path) -> None:
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(tmp_path / "kernel-ipc"))
    km.start_kernel(env=kernel_env(tmp_path / "home"))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        outputs = []
        reply = kc.execute_interactive("SELECT 40 + 2 AS answer", timeout=60, output_hook=outputs.append)
        assert reply["content"]["status"] == "ok"
        results = [m for m in outputs if m["msg_type"] == "execute_result"]
        assert len(results) == 1 and "42" in results[0]["content"]["data"]["text/plain"]
        assert any(p.name.startswith("kernel-ipc") for p in tmp_path.iterdir())
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
