"""Session-scoped pytest fixtures for the local test services.

Use from a conftest.py (pick the import path that matches how pytest imports it):

    # tests/conftest.py, with no tests/__init__.py (pytest puts tests/ on sys.path)
    pytest_plugins = ["services.conftest_fixtures"]
    # or, when the repo root is on sys.path (python -m pytest from the root)
    pytest_plugins = ["tests.services.conftest_fixtures"]

Fixtures:
    s3_server      S3Server (SeaweedFS), bucket `lakehouse`, random keys
    nessie_server  NessieServer wired to s3_server's warehouse s3://lakehouse/warehouse
    lakehouse_env  dict of the kernel's environment variables for both
                   (NESSIE_URI, NESSIE_REF, AWS_*, LAKEHOUSE_WAREHOUSE, ...)
"""

from __future__ import annotations

import pytest

from . import NessieServer, S3Server, services_env


@pytest.fixture(scope="session")
def s3_server():
    with S3Server() as s3:
        yield s3


@pytest.fixture(scope="session")
def nessie_server(s3_server):
    with NessieServer(s3=s3_server) as nessie:
        yield nessie


@pytest.fixture(scope="session")
def lakehouse_env(nessie_server, s3_server) -> dict[str, str]:
    return services_env(nessie=nessie_server, s3=s3_server)
