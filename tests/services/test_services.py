"""End-to-end checks of the local test services (really starts Nessie and SeaweedFS)."""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest

from . import NessieServer, S3Server, check_refuses_wrong_key
from ._common import (LOOPBACK, group_members, http_json, http_request, listening_addresses,
                      pid_alive)
from .conftest_fixtures import lakehouse_env, nessie_server, s3_server  # noqa: F401
from .java import find_java
from .nessie import nessie_jar
from .seaweedfs import weed_binary

SCHEMA = {"type": "struct", "schema-id": 0,
          "fields": [{"id": 1, "name": "id", "required": False, "type": "long"}]}


def _post_json(url: str, payload: dict) -> tuple[int, dict]:
    status, _, body = http_request(url, "POST", json.dumps(payload).encode(),
                                   {"Content-Type": "application/json"}, timeout=60)
    return status, (json.loads(body) if body else {})


def _create_table(nessie: NessieServer) -> dict:
    """Namespace + table through Nessie's Iceberg REST API; returns the LoadTable response."""
    prefix = f"{nessie.iceberg_uri}/v1/main%7C{nessie.warehouse_name}"
    ns = "ns_" + uuid.uuid4().hex[:8]
    status, body = _post_json(f"{prefix}/namespaces", {"namespace": [ns], "properties": {}})
    assert status == 200, body
    # Nessie 0.99 insists on "stage-create" being present.
    status, body = _post_json(f"{prefix}/namespaces/{ns}/tables",
                              {"name": "t1", "schema": SCHEMA, "stage-create": False})
    assert status == 200, body
    return body


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((LOOPBACK, port)) != 0


def test_nessie_lists_main_branch(nessie_server):
    trees = http_json(f"{nessie_server.uri}/trees")
    names = {(r["type"], r["name"]) for r in trees["references"]}
    assert ("BRANCH", "main") in names
    assert nessie_server.uri.startswith("http://127.0.0.1:") and nessie_server.uri.endswith("/api/v2")


def test_nessie_iceberg_rest_uses_the_s3_warehouse(nessie_server, s3_server):
    config = http_json(f"{nessie_server.iceberg_uri}/v1/config?warehouse={nessie_server.warehouse_name}")
    assert config["defaults"]["warehouse"] == s3_server.warehouse == "s3://lakehouse/warehouse"
    assert config["overrides"]["s3.endpoint"].rstrip("/") == s3_server.endpoint
    table = _create_table(nessie_server)
    location = table["metadata-location"]
    assert location.startswith(s3_server.warehouse + "/")
    # Nessie wrote the metadata file with the configured (secret) S3 key.
    key = location[len(f"s3://{s3_server.bucket}/"):]
    assert key in s3_server.client().list_keys(s3_server.bucket, prefix="warehouse/")
    assert json.loads(s3_server.client().get_object(s3_server.bucket, key))["format-version"] in (1, 2)


def test_s3_put_and_get_signed(s3_server):
    client = s3_server.client()
    key = f"smoke/{uuid.uuid4().hex}/hello world.txt"
    payload = b"hello lakehouse\n" * 100
    client.put_object(s3_server.bucket, key, payload)
    assert client.get_object(s3_server.bucket, key) == payload
    assert key in client.list_keys(s3_server.bucket, prefix="smoke/")
    client.delete_object(s3_server.bucket, key)
    assert client.request("GET", s3_server.bucket, key, check=False).status == 404


def test_s3_refuses_wrong_or_missing_credentials(s3_server):
    assert check_refuses_wrong_key(s3_server.info) == 403
    bad = s3_server.client(secret_key="not-the-secret")
    resp = bad.request("GET", s3_server.bucket, "anything", check=False)
    assert resp.status == 403 and b"SignatureDoesNotMatch" in resp.body
    resp = bad.request("PUT", s3_server.bucket, "denied.txt", b"x", check=False)
    assert resp.status == 403
    unknown = s3_server.info.client()
    unknown.access_key = "nobody"
    assert unknown.head_bucket(s3_server.bucket, check=False).status == 403
    status, _, _ = http_request(f"{s3_server.endpoint}/{s3_server.bucket}/anything")  # unsigned
    assert status == 403


def test_seaweedfs_iceberg_rest_answers(s3_server):
    config = http_json(f"{s3_server.iceberg_rest_uri}/v1/config")
    assert "defaults" in config and "overrides" in config


def test_env_has_the_kernel_variables(lakehouse_env, s3_server, nessie_server):
    for name in ("NESSIE_URI", "NESSIE_REF", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_REGION", "AWS_ENDPOINT_URL", "LAKEHOUSE_WAREHOUSE"):
        assert lakehouse_env.get(name), name
    assert lakehouse_env["NESSIE_URI"] == nessie_server.uri
    assert lakehouse_env["NESSIE_REF"] == "main"
    assert lakehouse_env["AWS_ENDPOINT_URL"] == s3_server.endpoint
    assert lakehouse_env["LAKEHOUSE_WAREHOUSE"] == "s3://lakehouse/warehouse"
    assert lakehouse_env["SEAWEEDFS_ICEBERG_REST_URI"] == s3_server.iceberg_rest_uri


def test_everything_listens_on_loopback_only(nessie_server, s3_server):
    for server, expected in ((nessie_server, {nessie_server.port, nessie_server.management_port}),
                             (s3_server, {s3_server.ports["s3"], s3_server.ports["iceberg"]})):
        addrs = listening_addresses(server.pid)
        assert addrs, f"no listening sockets found for pid {server.pid}"
        assert {a for a, _ in addrs} == {"127.0.0.1"}, addrs
        assert expected <= {p for _, p in addrs}, addrs


def test_warm_start_uses_the_cache(nessie_server, s3_server):
    # The session fixtures already populated .cache/: these must not download again.
    for fn in (nessie_jar, weed_binary, find_java):
        started = time.monotonic()
        fn()
        assert time.monotonic() - started < 5, fn.__name__


def test_second_instances_run_beside_and_stop_cleanly(s3_server):
    """Another S3 + Nessie pair on other ports; stopping leaves no process or socket."""
    started = time.monotonic()
    s3 = S3Server(bucket="second").start()
    nessie = NessieServer(s3=s3.info, request_signing=False).start()
    timings = (s3.startup_seconds, nessie.startup_seconds, time.monotonic() - started)
    print("warm start seconds: s3 %.1f, nessie %.1f, total %.1f" % timings)
    try:
        assert s3.endpoint != s3_server.endpoint
        assert http_request(f"{nessie.uri}/config")[0] == 200
        table = _create_table(nessie)
        assert table["metadata-location"].startswith("s3://second/warehouse/")
        assert table.get("config", {}).get("s3.remote-signing-enabled") != "true"
        pids = [s3.pid, nessie.pid]
        ports = list(s3.ports.values()) + [nessie.port, nessie.management_port]
        dirs = [s3.data_dir, nessie.run_dir]
    finally:
        nessie.stop()
        s3.stop()
    for pid in pids:
        assert not pid_alive(pid), pid
        assert group_members(pid) == [], pid
    for port in ports:
        assert _port_closed(port), port
    for d in dirs:
        assert not d.exists(), d
    # The session's servers are untouched.
    assert s3_server.client().head_bucket(s3_server.bucket).status == 200


def test_startup_failure_reports_log():
    """A server that cannot start fails fast with the log path and its last lines."""
    from ._common import ServiceError

    server = NessieServer(extra_properties={"nessie.version.store.type": "NO_SUCH_STORE"},
                          startup_timeout=60)
    with pytest.raises(ServiceError) as info:
        server.start()
    message = str(info.value)
    assert "log: " in message and "--- last lines ---" in message
    assert server.pid is None and server.run_dir is None
