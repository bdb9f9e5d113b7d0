# JupyterHub configuration for tests/test_jupyterhub.py (not for production).
#
# Everything variable comes from the JSON file named by LAKEHOUSE_HUB_TEST_SETTINGS, which the
# test writes: ports, the hub's data folder, the users' password and limits, and the environment
# each single-user server (and so each kernel it starts) gets.
import json
import os

settings = json.load(open(os.environ["LAKEHOUSE_HUB_TEST_SETTINGS"]))
data = settings["data_dir"]

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

# Everything on loopback; the proxy is the public entry point, the hub API sits behind it.
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = settings["proxy_port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.command = [settings["chp"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.pid_file = os.path.join(data, "proxy.pid")

# State in the test's temporary folder.
c.JupyterHub.db_url = "sqlite:///" + os.path.join(data, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(data, "cookie_secret")
c.JupyterHub.pid_file = os.path.join(data, "jupyterhub.pid")
# On shutdown the hub stops the single-user servers and the proxy it started.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.log_level = "INFO"

# Users log in with a password; only the test's users are allowed.
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = settings["password"]
c.Authenticator.allowed_users = set(settings["users"])

# Single-user servers as local processes of the same OS user, from the test's venv.
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(data, "home", "{username}")
c.Spawner.cmd = [settings["singleuser"]]
c.Spawner.ip = "127.0.0.1"
c.Spawner.default_url = "/tree"
if os.getuid() == 0:  # CI and the dev machines run as root; jupyter_server refuses that by default
    c.Spawner.args = ["--ServerApp.allow_root=True"]
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90


def per_user_environment(spawner):
    """The shared environment plus each user's own folders (LAKEHOUSE_HOME, Jupyter runtime)."""
    name = spawner.user.name
    home = os.path.join(data, "home", name)
    env = dict(settings["environment"])
    env["LAKEHOUSE_HOME"] = os.path.join(home, "lakehouse")
    env["JUPYTER_DATA_DIR"] = os.path.join(home, "jupyter-data")
    env["JUPYTER_RUNTIME_DIR"] = os.path.join(home, "jupyter-runtime")
    return env


def pre_spawn_hook(spawner):
    # The limits a JupyterHub admin sets per user (KubeSpawner and others enforce them);
    # the base Spawner exports them to the server's environment as MEM_LIMIT / CPU_LIMIT.
    limits = settings["limits"][spawner.user.name]
    spawner.mem_limit = limits["mem_limit"]
    spawner.cpu_limit = limits["cpu_limit"]
    spawner.environment = {**spawner.environment, **per_user_environment(spawner)}


c.Spawner.pre_spawn_hook = pre_spawn_hook
