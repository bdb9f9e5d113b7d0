"""Local test services for lakehouse-kernel: Nessie, an S3 server (SeaweedFS), local Spark.

Import from the repo root as `tests.services` (or as `services` when pytest puts
`tests/` on sys.path). See README.md in this folder.
"""

from ._common import CACHE_DIR, LOG_DIR, ServiceError
from .nessie import NESSIE_VERSION, NessieServer
from .seaweedfs import S3Endpoint, S3Server, check_refuses_wrong_key
from .sigv4 import S3Client, S3Error, sign_v4
from .spark import SparkError, SparkResult, SparkSQL

__all__ = [
    "CACHE_DIR", "LOG_DIR", "NESSIE_VERSION", "NessieServer", "S3Client", "S3Endpoint",
    "S3Error", "S3Server", "ServiceError", "SparkError", "SparkResult", "SparkSQL",
    "check_refuses_wrong_key", "sign_v4", "services_env",
]


def services_env(nessie=None, s3=None) -> dict[str, str]:
    """Merged environment for the kernel from whichever servers are given."""
    env: dict[str, str] = {}
    if s3 is not None:
        env.update(s3.env())
    if nessie is not None:
        env.update(nessie.env())
    return env
