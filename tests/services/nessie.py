"""Project Nessie server (Quarkus runner jar) with an in-memory store, loopback only."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Mapping, Optional

from ._common import (DOWNLOAD_DIR, LOOPBACK, ServiceError, http_json, log, new_log_path,
                      reserve_ports, spawn, terminate, wait_until)
from .java import find_java

# 0.108.4 was asked for, but the Maven registry reachable here serves only 0.60.1 and
# 0.99.0 of nessie-quarkus (its maven-metadata.xml lists those two; 0.108.x gives 404).
# 0.99.0 is compiled for Java 21 too (class files major 65).
NESSIE_VERSION = os.environ.get("TEST_SERVICES_NESSIE_VERSION", "0.99.0")
MAVEN_REPO = os.environ.get("TEST_SERVICES_MAVEN_REPO", "https://repo1.maven.org/maven2")
DEFAULT_WAREHOUSE_NAME = "warehouse"
SECRETS_PREFIX = "lakehouse-secrets"


def nessie_jar(version: str = NESSIE_VERSION) -> Path:
    from ._common import download_verified

    name = f"nessie-quarkus-{version}-runner.jar"
    url = f"{MAVEN_REPO}/org/projectnessie/nessie/nessie-quarkus/{version}/{name}"
    return download_verified(url, DOWNLOAD_DIR / name)


def _props_text(props: Mapping[str, str]) -> str:
    def esc(v: str) -> str:
        return str(v).replace("\\", "\\\\").replace("\n", "\\n")
    return "".join(f"{k}={esc(v)}\n" for k, v in props.items())


class NessieServer:
    """Nessie on free loopback ports; optional Iceberg REST warehouse on an S3 server.

        with S3Server() as s3, NessieServer(s3=s3) as nessie:
            nessie.uri          # http://127.0.0.1:PORT/api/v2
            nessie.iceberg_uri  # http://127.0.0.1:PORT/iceberg
            nessie.env()        # NESSIE_URI, NESSIE_REF (+ S3 variables when s3 given)

    `s3` is anything with endpoint/access_key/secret_key/region/bucket attributes
    (an `S3Server` or an `S3Endpoint`). `extra_properties` are added to Nessie's
    config/application.properties (they win over the defaults set here).
    `request_signing=False` stops Nessie from telling Iceberg clients to use its
    S3 remote signer (they then use their own AWS_* credentials); None keeps
    Nessie's default (enabled).
    """

    def __init__(self, s3=None, version: str = NESSIE_VERSION,
                 warehouse_name: str = DEFAULT_WAREHOUSE_NAME,
                 extra_properties: Optional[Mapping[str, str]] = None,
                 request_signing: Optional[bool] = None,
                 startup_timeout: float = 180.0, heap: str = "1g",
                 die_with_parent: bool = True):
        self.s3 = s3
        self.version = version
        self.warehouse_name = warehouse_name
        self.extra_properties = dict(extra_properties or {})
        self.request_signing = request_signing
        self.startup_timeout = startup_timeout
        # Server gets SIGTERM if the thread that started it exits (off for the CLI).
        self.die_with_parent = die_with_parent
        self.heap = heap
        self.port: Optional[int] = None
        self.management_port: Optional[int] = None
        self.run_dir: Optional[Path] = None
        self.log_path: Optional[Path] = None
        self.pid: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        self.java: Optional[str] = None
        self.startup_seconds: Optional[float] = None

    # ------------------------------------------------------------ facts
    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def uri(self) -> str:
        return f"{self.base_url}/api/v2"

    @property
    def iceberg_uri(self) -> str:
        return f"{self.base_url}/iceberg"

    @property
    def management_url(self) -> str:
        return f"http://{LOOPBACK}:{self.management_port}"

    @property
    def warehouse_location(self) -> Optional[str]:
        return f"s3://{self.s3.bucket}/warehouse" if self.s3 is not None else None

    def env(self) -> dict[str, str]:
        out = {
            "NESSIE_URI": self.uri,
            "NESSIE_REF": "main",
            "NESSIE_ICEBERG_URI": self.iceberg_uri,
        }
        if self.s3 is not None:
            out["NESSIE_WAREHOUSE"] = self.warehouse_name
            out.update(self.s3.env())
        return out

    def properties(self) -> dict[str, str]:
        """Everything written to config/application.properties of the run dir."""
        props = {
            "quarkus.http.host": LOOPBACK,
            "quarkus.http.port": str(self.port),
            "quarkus.management.enabled": "true",
            "quarkus.management.host": LOOPBACK,
            "quarkus.management.port": str(self.management_port),
            "nessie.version.store.type": "IN_MEMORY",
            "quarkus.console.color": "false",
        }
        if self.s3 is not None:
            s3 = self.s3
            secret = f"{SECRETS_PREFIX}.s3-default"
            props.update({
                "nessie.catalog.default-warehouse": self.warehouse_name,
                f"nessie.catalog.warehouses.{self.warehouse_name}.location": self.warehouse_location,
                "nessie.catalog.service.s3.default-options.endpoint": s3.endpoint + "/",
                "nessie.catalog.service.s3.default-options.path-style-access": "true",
                "nessie.catalog.service.s3.default-options.region": s3.region,
                "nessie.catalog.service.s3.default-options.access-key": f"urn:nessie-secret:quarkus:{secret}",
                f"{secret}.name": s3.access_key,
                f"{secret}.secret": s3.secret_key,
            })
            if self.request_signing is not None:
                # Nessie's default (true) tells Iceberg clients to have S3 requests
                # signed by Nessie (s3.remote-signing-enabled in the table config).
                props["nessie.catalog.service.s3.default-options.request-signing-enabled"] = (
                    "true" if self.request_signing else "false")
        props.update(self.extra_properties)
        return props

    # ---------------------------------------------------------- control
    def start(self) -> "NessieServer":
        if self.pid is not None:
            raise ServiceError("NessieServer already started")
        started = time.monotonic()
        jar = nessie_jar(self.version)
        self.java = find_java()
        self.run_dir = Path(tempfile.mkdtemp(prefix="lakehouse-nessie-"))
        (self.run_dir / "config").mkdir()
        self.log_path = new_log_path("nessie")
        with reserve_ports(2) as (port, mgmt):
            self.port, self.management_port = port, mgmt
            props_file = self.run_dir / "config" / "application.properties"
            props_file.write_text(_props_text(self.properties()))
            props_file.chmod(0o600)
        cmd = [self.java, f"-Xmx{self.heap}", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
               "-Djava.net.preferIPv4Stack=true", "-Dlakehouse.service=nessie",
               "-jar", str(jar)]
        # Quarkus maps environment variables onto its config (NESSIE_*, QUARKUS_*):
        # start from a clean environment so an exported NESSIE_URI etc. cannot leak in.
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
        env["TMPDIR"] = str(self.run_dir)
        self.proc = spawn(cmd, self.log_path, cwd=self.run_dir, env=env,
                          die_with_parent=self.die_with_parent)
        self.pid = self.proc.pid
        try:
            wait_until("Nessie GET /api/v2/config",
                       lambda: http_json(f"{self.uri}/config", timeout=2).get("defaultBranch") == "main",
                       self.startup_timeout, self.log_path, self.proc)
            if self.s3 is not None:
                wait_until("Nessie Iceberg REST /iceberg/v1/config",
                           lambda: bool(http_json(
                               f"{self.iceberg_uri}/v1/config?warehouse={self.warehouse_name}", timeout=5)),
                           30, self.log_path, self.proc)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        log(f"Nessie {self.version} ready at {self.uri} in {self.startup_seconds:.1f}s "
            f"(java {self.java}); log {self.log_path}")
        return self

    def stop(self) -> None:
        if self.pid is not None:
            terminate(self.pid, self.proc, timeout=30)
            self.pid = None
            self.proc = None
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "NessieServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def to_state(self) -> dict:
        return {"pid": self.pid, "port": self.port, "management_port": self.management_port,
                "log": str(self.log_path), "run_dir": str(self.run_dir), "version": self.version,
                "java": self.java, "env": self.env()}
