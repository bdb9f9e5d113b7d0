# The lakehouse kernel for every user of a JupyterHub: limits, catalog and storage.
#
# Put these lines into your jupyterhub_config.py. Each single-user server, and so each kernel it
# starts, gets MEM_LIMIT and CPU_LIMIT from the spawner (the kernel sizes its query memory pool,
# spilling and threads from them; SHOW LIMITS shows what is in force) and the catalog settings
# below. Secrets come from the hub's own environment, never from this file.
import os

c = get_config()  # noqa: F821 (JupyterHub provides it when it loads this file)

# The image built from the Dockerfile beside this file (DockerSpawner; KubeSpawner takes the
# same image, mem_limit, cpu_limit and environment).
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = "lakehouse-notebook:latest"

# Per-user limits: the spawner enforces them and passes them on as MEM_LIMIT / CPU_LIMIT.
c.Spawner.mem_limit = "4G"
c.Spawner.cpu_limit = 2.0

# The team's lakehouse: Nessie catalog, S3-compatible warehouse.
c.Spawner.environment = {
    "NESSIE_URI": "http://nessie:19120/api/v2",
    "NESSIE_REF": "main",
    "LAKEHOUSE_WAREHOUSE": "s3://lakehouse/warehouse",
    "AWS_ENDPOINT_URL": "http://minio:9000",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", ""),
    "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
    # Optional: a team folder of start-up SQL (views, parameters) mounted into every server.
    # "LAKEHOUSE_STARTUP_DIR": "/srv/team/lakehouse",
}
