"""The kernel on the Iceberg REST catalog type (LAKEHOUSE_CATALOG=rest), against two real servers.

Both are started by tests/services on loopback for this test session:

* Nessie's Iceberg REST endpoint (`/iceberg`), warehouse by name, data on the S3 server;
* SeaweedFS's own Iceberg REST catalog, which keeps each catalog in an S3 *table bucket*
  (created here through its S3 Tables API) and authenticates with OAuth2 client
  credentials made of the S3 access key and secret.
"""

from __future__ import annotations

import json
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import Kernel, append_concurrently

pytest_plugins = ["services.conftest_fixtures"]

TABLE_BUCKET = "lakehouse-tables"


@dataclass
class RestServer:
    """One Iceberg REST server under test: the kernel's settings and where its data lands."""

    name: str
    env: dict[str, str]
    data_bucket: str
    data_prefix: str  # key prefix of the tables' folders in data_bucket

    def keys(self, s3_server, schema: str) -> list[str]:
        return s3_server.client().list_keys(self.data_bucket, prefix=f"{self.data_prefix}{schema}/")


def s3_env(s3_server) -> dict[str, str]:
    """The AWS_* settings only: the REST server decides where tables go."""
    return {k: v for k, v in s3_server.env().items() if k.startswith("AWS_")}


def create_table_bucket(s3_server, name: str) -> None:
    """Creates an S3 table bucket through SeaweedFS's S3 Tables API (an existing one is fine)."""
    from services import sign_v4
    from services._common import http_request

    url = s3_server.endpoint + "/"
    body = json.dumps({"name": name}).encode()
    headers = sign_v4(
        "POST", url,
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "S3Tables.CreateTableBucket"},
        body, access_key=s3_server.access_key, secret_key=s3_server.secret_key,
        region=s3_server.region, service="s3tables")
    headers.pop("Host")
    status, _, answer = http_request(url, method="POST", data=body, headers=headers, timeout=30)
    if status != 200 and b"already exists" not in answer.lower() and status != 409:
        raise AssertionError(f"CreateTableBucket {name}: HTTP {status} {answer[:500]!r}")


@pytest.fixture(scope="session")
def seaweedfs_table_bucket(s3_server) -> str:
    create_table_bucket(s3_server, TABLE_BUCKET)
    return TABLE_BUCKET


@pytest.fixture(params=["nessie", "seaweedfs"])
def rest_server(request, s3_server) -> RestServer:
    env = {**s3_env(s3_server), "LAKEHOUSE_CATALOG": "rest"}
    if request.param == "nessie":
        nessie = request.getfixturevalue("nessie_server")
        env.update(LAKEHOUSE_REST_URI=nessie.iceberg_uri, LAKEHOUSE_REST_WAREHOUSE=nessie.warehouse_name)
        return RestServer("nessie", env, s3_server.bucket, "warehouse/")
    bucket = request.getfixturevalue("seaweedfs_table_bucket")
    env.update(
        LAKEHOUSE_REST_URI=s3_server.iceberg_rest_uri,
        LAKEHOUSE_REST_WAREHOUSE=f"s3://{bucket}",
        LAKEHOUSE_REST_CREDENTIAL=f"{s3_server.access_key}:{s3_server.secret_key}",
    )
    return RestServer("seaweedfs", env, bucket, "")


@pytest.fixture()
def rest_kernel(tmp_path: Path, rest_server: RestServer):
    k = Kernel(tmp_path / "home", **rest_server.env)
    yield k
    k.close()


def ns() -> str:
    return "t" + uuid.uuid4().hex[:10]


def plain(run) -> str:
    return "\n".join(r.get("text/plain", "") for r in run.results)


def first_row(run) -> list[str]:
    text = plain(run)
    return [c.strip() for c in text.split("\n")[3].strip("|").split("|")]


def test_tables_on_s3_through_rest(rest_kernel: Kernel, rest_server: RestServer, s3_server) -> None:
    k, s = rest_kernel, ns()
    run = k.ok(
        f"""CREATE SCHEMA {s};
        CREATE TABLE {s}.events (customer_id STRING, amount DOUBLE);
        INSERT INTO {s}.events VALUES ('c1', 1.5), ('c2', 2.5), ('c3', NULL);
        SELECT count(*) AS n, sum(amount) AS total FROM {s}.events;"""
    )
    assert f"Inserted 3 rows into {s}.events" in run.stdout
    assert first_row(run) == ["3", "4.0"], plain(run)
    # The data and metadata files really are on the S3 server, where the REST server put them.
    keys = rest_server.keys(s3_server, s)
    assert any(key.endswith(".parquet") for key in keys), keys
    assert any(key.endswith(".metadata.json") for key in keys), keys
    run = k.ok("SHOW TABLES")
    assert "events" in plain(run)
    k.ok(f"DROP TABLE {s}.events")
    err = k.execute(f"SELECT * FROM {s}.events")
    assert err.status == "error" and err.error["ename"] == "TableNotFound", err.error


def test_a_second_kernel_sees_the_same_catalog(tmp_path: Path, rest_server: RestServer) -> None:
    s = ns()
    a = Kernel(tmp_path / "a", **rest_server.env)
    b = Kernel(tmp_path / "b", **rest_server.env)
    try:
        a.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (x BIGINT); INSERT INTO {s}.t VALUES (1), (2)")
        assert first_row(b.ok(f"SELECT sum(x) AS s FROM {s}.t")) == ["3"]
        b.ok(f"INSERT INTO {s}.t VALUES (3)")
        assert first_row(a.ok(f"SELECT sum(x) AS s FROM {s}.t")) == ["6"]
        a.ok(f"DROP TABLE {s}.t")
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("start", ["empty", "seeded"])
def test_two_kernels_appending_at_once(tmp_path: Path, rest_server: RestServer, start: str) -> None:
    """Concurrent commits: the loser's 409 is retried by iceberg-rust, so no append is lost.

    "empty" races the table's very first appends (the commit requires that main does not exist
    yet, which Nessie 0.99 does not check: the kernel's fence on Nessie's commit hash is what
    keeps both appends there, see test_nessie_0_99_ignores_the_no_snapshot_requirement);
    "seeded" races on a table that already has a snapshot (requires main's snapshot id)."""
    a = Kernel(tmp_path / "a", **rest_server.env)
    b = Kernel(tmp_path / "b", **rest_server.env)
    s = ns()
    try:
        a.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (who STRING, i BIGINT)")
        seeded = start == "seeded"
        if seeded:
            a.ok(f"INSERT INTO {s}.t VALUES ('seed', 0)")
        errors = append_concurrently({"a": a, "b": b}, f"{s}.t", 10)
        assert errors == [], errors
        want = str(20 + seeded)
        run = a.ok(f"SELECT count(*) AS n, count(DISTINCT who || CAST(i AS VARCHAR)) AS d FROM {s}.t")
        assert first_row(run) == [want, want], plain(a.ok(f"SELECT who, i FROM {s}.t ORDER BY who, i"))
    finally:
        a.close()
        b.close()


class NessieRest:
    """Plain-HTTP client for Nessie's Iceberg REST endpoint: commits with hand-written requirements."""

    def __init__(self, nessie_server, prefix: str | None = None) -> None:
        self.root = nessie_server.iceberg_uri.rstrip("/") + "/v1"
        status, cfg = self.call("GET", f"{self.root}/config?warehouse={nessie_server.warehouse_name}")
        assert status == 200, cfg
        self.prefix = prefix or cfg["defaults"]["prefix"]  # main%7Cwarehouse

    @staticmethod
    def call(method: str, url: str, body=None):
        from services._common import http_request

        data = json.dumps(body).encode() if body is not None else None
        status, _, answer = http_request(url, method=method, data=data,
                                         headers={"Content-Type": "application/json"}, timeout=60)
        return status, (json.loads(answer) if answer else None)

    def url(self, path: str, prefix: str | None = None) -> str:
        return f"{self.root}/{prefix or self.prefix}/{path}"

    def create_table(self, schema: str, table: str) -> None:
        status, answer = self.call("POST", self.url("namespaces"), {"namespace": [schema]})
        assert status in (200, 409), answer
        fields = [{"id": 1, "name": "x", "type": "long", "required": False}]
        status, answer = self.call("POST", self.url(f"namespaces/{schema}/tables"), {
            "name": table, "schema": {"type": "struct", "schema-id": 0, "fields": fields},
            "stage-create": False, "properties": {}})
        assert status == 200, answer

    def load(self, schema: str, table: str) -> dict:
        status, answer = self.call("GET", self.url(f"namespaces/{schema}/tables/{table}"))
        assert status == 200, answer
        return answer["metadata"]

    def append(self, schema: str, table: str, requires: int | None, prefix: str | None = None):
        """Commits a new snapshot as main, as a fast append does, requiring main to be at `requires`
        (None: main must not exist). Nessie does not read the manifest list, so none is written."""
        sid = int(uuid.uuid4().int % (1 << 62))
        snapshot = {"snapshot-id": sid, "timestamp-ms": 1, "sequence-number": 1, "schema-id": 0,
                    "summary": {"operation": "append"},
                    "manifest-list": f"s3://lakehouse/warehouse/{schema}/{table}/metadata/snap-{sid}.avro"}
        status, answer = self.call("POST", self.url(f"namespaces/{schema}/tables/{table}", prefix), {
            "requirements": [{"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": requires}],
            "updates": [{"action": "add-snapshot", "snapshot": snapshot},
                        {"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": sid}]})
        return sid, status, answer


def test_nessie_0_99_ignores_the_no_snapshot_requirement(nessie_server) -> None:
    """Nessie 0.99 ignores `assert-ref-snapshot-id` with `snapshot-id: null` ("main must not exist
    yet"), projectnessie/nessie#10062, fixed by projectnessie/nessie#10064 (after 0.99, the newest
    Nessie our Maven mirror serves): a second commit with that requirement is accepted although
    main exists, and replaces it, so two kernels' racing first appends could both report success
    and one vanish. Enforced non-null requirements are shown for contrast. The kernel guards
    against it by fencing its commits (kernel/src/catalog/rest.rs, next test); when this test
    fails on a newer Nessie, the fence is still correct, only no longer essential."""
    rest, s = NessieRest(nessie_server), ns()
    rest.create_table(s, "t")
    first, status, answer = rest.append(s, "t", None)
    assert status == 200, answer
    second, status, answer = rest.append(s, "t", None)
    assert status == 200, f"Nessie now enforces assert-ref-snapshot-id null: {answer}"
    meta = rest.load(s, "t")
    assert meta["refs"]["main"]["snapshot-id"] == second
    assert [snap["snapshot-id"] for snap in meta["snapshots"]] == [second]  # `first` is gone
    # A stale non-null requirement is refused.
    _, status, answer = rest.append(s, "t", first)
    assert status == 409 and "snapshot id changed" in answer["error"]["message"], answer


def test_nessie_refuses_a_stale_commit_fenced_by_its_commit_hash(nessie_server) -> None:
    """The kernel's guard against the bug above (RestCatalog::update_table): Nessie puts the
    commit the table was loaded at in its properties (nessie.commit.id), and a commit sent to the
    prefix `main@<that hash>` is refused when the table changed since, whatever the requirements
    say; a change to another table is no conflict."""
    from urllib.parse import quote

    rest, s = NessieRest(nessie_server), ns()
    rest.create_table(s, "t")
    loaded_at = rest.load(s, "t")["properties"]["nessie.commit.id"]
    fenced = quote(f"main@{loaded_at}|{nessie_server.warehouse_name}", safe="")
    rest.create_table(s, "other")  # moves main, not t: no conflict for t
    _, status, answer = rest.append(s, "t", None, prefix=fenced)
    assert status == 200, answer
    # A second writer that loaded t at the same commit is refused now, and main keeps the first.
    winner = rest.load(s, "t")
    _, status, answer = rest.append(s, "t", None, prefix=fenced)
    assert status == 409 and "expected content" in answer["error"]["message"], answer
    assert rest.load(s, "t")["refs"] == winner["refs"]


def test_show_settings_names_rest_and_hides_secrets(tmp_path: Path, nessie_server) -> None:
    token, secret = "tok-" + uuid.uuid4().hex, "sec-" + uuid.uuid4().hex
    k = Kernel(tmp_path / "home", LAKEHOUSE_CATALOG="rest", LAKEHOUSE_REST_URI=nessie_server.iceberg_uri,
               LAKEHOUSE_REST_WAREHOUSE=nessie_server.warehouse_name, LAKEHOUSE_REST_TOKEN=token,
               LAKEHOUSE_REST_CREDENTIAL=f"client:{secret}")
    try:
        text = plain(k.ok("SHOW SETTINGS"))
        rows = {cells[0]: cells[1] for cells in
                ([c.strip() for c in line.strip("|").split("|")] for line in text.split("\n")[3:])
                if len(cells) >= 2}
        assert rows.get("LAKEHOUSE_CATALOG") == "rest", text
        assert rows.get("LAKEHOUSE_REST_URI") == nessie_server.iceberg_uri, text
        assert rows.get("LAKEHOUSE_REST_WAREHOUSE") == nessie_server.warehouse_name, text
        assert rows.get("LAKEHOUSE_REST_TOKEN") == "(set, hidden)", text
        assert rows.get("LAKEHOUSE_REST_CREDENTIAL") == "(set, hidden)", text
        assert token not in text and secret not in text, text
    finally:
        k.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_rest_server_not_listening_is_named_and_kernel_lives(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}/iceberg"
    k = Kernel(tmp_path / "home", LAKEHOUSE_CATALOG="rest", LAKEHOUSE_REST_URI=uri)
    try:
        for cell in ("SHOW TABLES", "CREATE SCHEMA nowhere"):
            run = k.execute(cell)
            assert run.status == "error", run.describe()
            assert uri in run.error["evalue"] and "LAKEHOUSE_REST_URI" in run.error["evalue"], run.error
            k.assert_alive()
        # Statements that need no catalog still run.
        k.ok("SELECT 1")
    finally:
        k.close()


@pytest.mark.parametrize("case", ["wrong secret", "no credential", "unknown table bucket"])
def test_seaweedfs_refusals_name_the_setting_to_fix(tmp_path: Path, s3_server, seaweedfs_table_bucket: str,
                                                      case: str) -> None:
    env = {**s3_env(s3_server), "LAKEHOUSE_CATALOG": "rest", "LAKEHOUSE_REST_URI": s3_server.iceberg_rest_uri,
           "LAKEHOUSE_REST_WAREHOUSE": f"s3://{seaweedfs_table_bucket}",
           "LAKEHOUSE_REST_CREDENTIAL": f"{s3_server.access_key}:{s3_server.secret_key}"}
    setting = "LAKEHOUSE_REST_CREDENTIAL"
    if case == "wrong secret":
        env["LAKEHOUSE_REST_CREDENTIAL"] = f"{s3_server.access_key}:not-the-secret"
    elif case == "no credential":
        del env["LAKEHOUSE_REST_CREDENTIAL"]
    else:
        env["LAKEHOUSE_REST_WAREHOUSE"] = "s3://no-such-table-bucket"
        setting = "LAKEHOUSE_REST_WAREHOUSE"
    k = Kernel(tmp_path / "home", **env)
    try:
        run = k.execute("SHOW TABLES")
        assert run.status == "error", run.describe()
        evalue = run.error["evalue"]
        assert setting in evalue and s3_server.iceberg_rest_uri in evalue, evalue
        assert "not-the-secret" not in evalue and s3_server.secret_key not in evalue, evalue
        k.assert_alive()
    finally:
        k.close()


def test_nessie_unknown_warehouse_names_the_setting(tmp_path: Path, nessie_server) -> None:
    k = Kernel(tmp_path / "home", LAKEHOUSE_CATALOG="rest", LAKEHOUSE_REST_URI=nessie_server.iceberg_uri,
               LAKEHOUSE_REST_WAREHOUSE="no_such_warehouse")
    try:
        run = k.execute("SHOW TABLES")
        assert run.status == "error", run.describe()
        evalue = run.error["evalue"]
        assert "LAKEHOUSE_REST_WAREHOUSE" in evalue and "no_such_warehouse" in evalue, evalue
        k.assert_alive()
    finally:
        k.close()


class TlsFront:
    """A TLS-terminating TCP forwarder on loopback in front of a plain HTTP server, with a
    self-signed certificate for 127.0.0.1 (made with the openssl command)."""

    def __init__(self, target_port: int, folder: Path) -> None:
        import shutil
        import ssl
        import subprocess
        import threading

        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("the openssl command is needed to make a test certificate")
        self.cert, key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(self.cert),
             "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"],
            check=True, capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.target = ("127.0.0.1", target_port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.ctx = ctx
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while not self.stopped:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client) -> None:
        import threading

        try:
            tls = self.ctx.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:  # a client that refuses the certificate ends here
            client.close()
            return
        threading.Thread(target=self._pipe, args=(upstream, tls), daemon=True).start()
        self._pipe(tls, upstream)

    @staticmethod
    def _pipe(a, b) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (a, b):
                try:
                    sock.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.stopped = True
        self.server.close()


def test_https_rest_catalog_with_a_trusted_certificate(tmp_path: Path, s3_server,
                                                         seaweedfs_table_bucket: str) -> None:
    from urllib.parse import urlparse

    front = TlsFront(urlparse(s3_server.iceberg_rest_uri).port, tmp_path)
    uri = f"https://127.0.0.1:{front.port}"
    env = {**s3_env(s3_server), "LAKEHOUSE_CATALOG": "rest", "LAKEHOUSE_REST_URI": uri,
           "LAKEHOUSE_REST_WAREHOUSE": f"s3://{seaweedfs_table_bucket}",
           "LAKEHOUSE_REST_CREDENTIAL": f"{s3_server.access_key}:{s3_server.secret_key}"}
    s = ns()
    try:
        # Not trusted: the error says so and names the address.
        k = Kernel(tmp_path / "untrusted", **env)
        try:
            run = k.execute("SHOW TABLES")
            assert run.status == "error", run.describe()
            assert uri in run.error["evalue"] and "certificate" in run.error["evalue"], run.error
            k.assert_alive()
        finally:
            k.close()
        # Trusted through SSL_CERT_FILE: the whole round trip goes over TLS.
        k = Kernel(tmp_path / "trusted", SSL_CERT_FILE=str(front.cert), **env)
        try:
            k.ok(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (x BIGINT); INSERT INTO {s}.t VALUES (1), (2)")
            assert first_row(k.ok(f"SELECT sum(x) AS s FROM {s}.t")) == ["3"]
            k.ok(f"DROP TABLE {s}.t")
        finally:
            k.close()
    finally:
        front.close()


def test_branch_statements_on_rest_explain_what_to_set(tmp_path: Path, nessie_server) -> None:
    k = Kernel(tmp_path / "home", LAKEHOUSE_CATALOG="rest", LAKEHOUSE_REST_URI=nessie_server.iceberg_uri)
    try:
        run = k.execute("CREATE BRANCH dev")
        assert run.status == "error"
        assert "NESSIE_URI" in run.error["evalue"], run.error
        k.assert_alive()
    finally:
        k.close()
