"""Resource limits (MEM_LIMIT / CPU_LIMIT as JupyterHub's spawners set them, and the kernel's
own overrides) and team start-up files, through jupyter_client (issue 7)."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

# 10M rows of (Int64, Float64) sorted: ~160 MB of data against a 64 MiB pool (MEM_LIMIT=256M).
BIG_SORT = "SELECT value, random() AS r FROM range(10000000) ORDER BY r"
# 10M groups, all distinct: the aggregate state does not fit in 64 MiB either.
BIG_GROUP_BY = "SELECT value % 7 AS k, count(*) AS n FROM range(10000000) GROUP BY value ORDER BY n DESC"


def table(run, width: int) -> list[list[str]]:
    """Rows of the last result's HTML table (cells unescaped, tags removed)."""
    cells = re.findall(r"<td[^>]*>(.*?)</td>", run.results[-1]["text/html"], flags=re.S)
    texts = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]
    return [texts[i : i + width] for i in range(0, len(texts), width)]


def stderr(run) -> str:
    return "".join(m["content"]["text"] for m in run.of_type("stream") if m["content"]["name"] == "stderr")


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# -- limits -----------------------------------------------------------------------------------


def test_hub_limits_are_reported(start_kernel, tmp_path):
    spill = tmp_path / "spill"
    k = start_kernel(tmp_path / "home", MEM_LIMIT="1073741824", CPU_LIMIT="1.5", LAKEHOUSE_SPILL_DIR=str(spill))
    k.ok("SET lakehouse.max_col_width = 400")
    settings = dict(table(k.ok("SHOW SETTINGS"), 2))
    assert settings["MEM_LIMIT"] == f"1073741824 (1.0 GiB; memory pool 716.8 MiB, spill to {spill}, cap 10.0 GiB)"
    assert settings["CPU_LIMIT"] == "1.5 (target partitions 2)"
    for var in ("LAKEHOUSE_MEMORY_LIMIT", "LAKEHOUSE_CPU_LIMIT", "LAKEHOUSE_TARGET_PARTITIONS"):
        assert settings[var] == "(not set)", settings
    assert settings["LAKEHOUSE_SPILL_DIR"] == str(spill)
    assert settings["LAKEHOUSE_SPILL_LIMIT"] == "10737418240 (10.0 GiB)"

    limits = {r[0]: r[1:] for r in table(k.ok("SHOW LIMITS"), 3)}
    assert limits["memory"] == ["1.0 GiB (1073741824 bytes)", "MEM_LIMIT"]
    assert limits["memory pool (queries)"][0] == "716.8 MiB (0 B in use)"
    assert limits["CPU"] == ["1.5 cores", "CPU_LIMIT"]
    assert limits["target partitions"] == ["2", "ceil(CPU_LIMIT)"]
    assert limits["engine threads"] == ["2", "ceil(CPU_LIMIT)"]
    assert limits["spill directory"][0].startswith(str(spill) + "/datafusion-")
    assert limits["spill cap"] == ["10.0 GiB (0 B in use)", "default"]
    # DataFusion runs with them.
    run = k.ok("SELECT value FROM information_schema.df_settings WHERE name = 'datafusion.execution.target_partitions'")
    assert table(run, 1) == [["2"]]


def test_kernel_settings_override_the_hub(start_kernel, tmp_path):
    k = start_kernel(
        tmp_path / "home",
        MEM_LIMIT="1G",
        CPU_LIMIT="1",
        LAKEHOUSE_MEMORY_LIMIT="2G",
        LAKEHOUSE_TARGET_PARTITIONS="3",
    )
    k.ok("SET lakehouse.max_col_width = 400")
    settings = dict(table(k.ok("SHOW SETTINGS"), 2))
    assert settings["MEM_LIMIT"].startswith("2147483648 (2.0 GiB from LAKEHOUSE_MEMORY_LIMIT; memory pool 1.4 GiB"), settings
    assert settings["LAKEHOUSE_MEMORY_LIMIT"] == "2.0 GiB"
    assert settings["CPU_LIMIT"] == "1 (target partitions 3)"
    assert settings["LAKEHOUSE_TARGET_PARTITIONS"] == "3"
    limits = {r[0]: r[1:] for r in table(k.ok("SHOW LIMITS"), 3)}
    assert limits["memory"][1] == "LAKEHOUSE_MEMORY_LIMIT"
    assert "above MEM_LIMIT 1.0 GiB" in limits["memory"][0]
    assert limits["target partitions"] == ["3", "LAKEHOUSE_TARGET_PARTITIONS"]
    assert limits["engine threads"] == ["1", "ceil(CPU_LIMIT)"]


def test_config_file_keys(start_kernel, tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('memory_limit = "512M"\ncpu_limit = 0.5\nspill_limit = 0\n')
    k = start_kernel(tmp_path / "home", LAKEHOUSE_CONFIG=str(cfg), MEM_LIMIT="4G")
    limits = {r[0]: r[1:] for r in table(k.ok("SHOW LIMITS"), 3)}
    assert limits["memory"] == ["512.0 MiB (536870912 bytes)", "memory_limit in the config file"]
    assert limits["memory pool (queries)"][0] == "256.0 MiB (0 B in use)"
    assert limits["target partitions"] == ["1", "ceil(cpu_limit in the config file)"]
    assert limits["spill cap"] == ["0 (spilling off)", "spill_limit in the config file"]


def test_query_that_cannot_fit_fails_clearly_and_the_session_goes_on(start_kernel, tmp_path):
    spill = tmp_path / "spill"
    k = start_kernel(
        tmp_path / "home", MEM_LIMIT="256M", CPU_LIMIT="2", LAKEHOUSE_SPILL_DIR=str(spill), LAKEHOUSE_SPILL_LIMIT="1M"
    )
    k.ok("SET n = 42")
    run = k.execute(BIG_SORT, timeout=300)
    assert run.status == "error", run.describe()
    err = run.error
    assert err["ename"] == "ResourcesExhausted"
    assert err["evalue"].startswith(
        "the query needs more memory than the kernel's limit of 256.0 MiB (MEM_LIMIT; 64.0 MiB of it for queries) "
        f"and more disk to spill to than the spill cap of 1.0 MiB (LAKEHOUSE_SPILL_LIMIT, in {spill})"
    ), err["evalue"]
    assert "raise LAKEHOUSE_SPILL_LIMIT" in err["evalue"]
    assert k.km.is_alive()
    assert table(k.ok("SELECT $n + 1 AS x"), 1) == [["43"]]
    # The pool is empty again.
    limits = {r[0]: r[1:] for r in table(k.ok("SHOW LIMITS"), 3)}
    assert limits["memory pool (queries)"][0] == "64.0 MiB (0 B in use)"


def test_without_spilling_the_error_names_the_operator_and_its_need(start_kernel, tmp_path):
    k = start_kernel(tmp_path / "home", MEM_LIMIT="256M", CPU_LIMIT="2", LAKEHOUSE_SPILL_LIMIT="0")
    run = k.execute(BIG_GROUP_BY, timeout=300)
    assert run.status == "error", run.describe()
    evalue = run.error["evalue"]
    assert re.match(
        r"the query needs more memory than the kernel's limit of 256\.0 MiB \(MEM_LIMIT; 64\.0 MiB of it for queries\)"
        r"(: \S.* wanted [\d.]+ [KMG]?i?B more with [\d.]+ [KMG]?i?B in use, [\d.]+ [KMG]?i?B left for it\."
        r"| and spilling to disk is off \(LAKEHOUSE_SPILL_LIMIT=0\)\.)"
        r" Reduce the data \(filter, fewer columns",
        evalue,
    ), evalue
    assert "MEM_LIMIT / LAKEHOUSE_MEMORY_LIMIT" in evalue
    assert k.km.is_alive()
    assert table(k.ok("SELECT 1 + 1"), 1) == [["2"]]


def test_with_spilling_the_same_query_completes(start_kernel, tmp_path):
    spill = tmp_path / "spill"
    k = start_kernel(tmp_path / "home", MEM_LIMIT="256M", CPU_LIMIT="2", LAKEHOUSE_SPILL_DIR=str(spill))
    k.ok("SET lakehouse.max_col_width = 100000")
    run = k.ok("EXPLAIN ANALYZE " + BIG_SORT, timeout=300)
    plan = "\n".join(r.get("text/plain", "") for r in run.results)
    counts = [int(n) for n in re.findall(r"\bspill_count=(\d+)", plan)]
    assert sum(counts) > 0, plan[:3000]
    assert "SortExec" in plan
    run = k.ok(BIG_SORT, timeout=300)
    assert "of 10,000,000 rows" in run.results[-1]["text/plain"] or "of 10000000 rows" in run.results[-1]["text/plain"]
    # Spill files are gone once the query is done; the folder is this user's only.
    assert dir_bytes(spill) == 0
    assert oct(spill.stat().st_mode & 0o777) == "0o700"


# -- start-up files ---------------------------------------------------------------------------


def test_startup_files_share_views_parameters_and_display_settings(start_kernel, tmp_path):
    team = tmp_path / "team"
    team.mkdir()
    (team / "10-params.sql").write_text("-- the team's parameters\nSET region = 'emea';\nSET lakehouse.max_rows = 3;\n")
    (team / "20-views.sql").write_text(
        "CREATE VIEW regions AS SELECT * FROM (VALUES ('emea', 1), ('apac', 2), ('amer', 3), ('anz', 4)) v(name, id);\n"
    )
    (team / "README.md").write_text("not SQL: ignored")
    user = tmp_path / "startup.sql"
    user.write_text("SET mine = $region || '-team';\n")
    k = start_kernel(tmp_path / "home", LAKEHOUSE_STARTUP_DIR=str(team), LAKEHOUSE_STARTUP_FILE=str(user))
    run = k.ok("SELECT name, $mine AS m FROM regions WHERE name = $region")
    assert table(run, 2) == [["emea", "emea-team"]]
    # Start-up statements' own messages ("region = 'emea'", "Done.") are not shown.
    assert run.stdout == "" and stderr(run) == "", run.describe()
    run = k.ok("SELECT * FROM regions ORDER BY id")
    assert len(table(run, 2)) == 3  # lakehouse.max_rows from the team file
    k.ok("SET lakehouse.max_col_width = 400; SET lakehouse.max_rows = 100")
    settings = dict(table(k.ok("SHOW SETTINGS"), 2))
    assert settings["LAKEHOUSE_STARTUP_DIR"] == str(team)
    assert settings["LAKEHOUSE_STARTUP_FILE"] == str(user)


def test_broken_startup_file_is_shown_in_the_first_cell(start_kernel, tmp_path):
    team = tmp_path / "team"
    team.mkdir()
    (team / "10-ok.sql").write_text("CREATE VIEW ok_view AS SELECT 1 AS x;\n")
    broken = team / "20-broken.sql"
    broken.write_text("SET a = 1;\n\nSELECT * FROM no_such_table;\nCREATE VIEW skipped AS SELECT 2 AS y;\n")
    (team / "30-after.sql").write_text("SET after = 'ran';\n")
    user = tmp_path / "mine.sql"
    user.write_text("SET b = 2;\nSELEC 3;\n")
    k = start_kernel(tmp_path / "home", LAKEHOUSE_STARTUP_DIR=str(team), LAKEHOUSE_STARTUP_FILE=str(user))
    run = k.ok("SELECT x, $after AS a, $b AS b FROM ok_view")
    assert table(run, 3) == [["1", "ran", "2"]]
    text = stderr(run)
    assert text.startswith("Start-up files had errors (the session opened anyway; this cell runs as usual):"), text
    assert f"{broken}, line 3: TableNotFound: table default.no_such_table does not exist" in text, text
    assert f"{user}, line 2: SyntaxError:" in text, text
    assert "   2 | SELEC 3" in text, text
    assert "the rest of this file was skipped" in text
    # Shown once.
    run = k.ok("SELECT 1")
    assert stderr(run) == ""
    # The rest of the broken file did not run.
    assert k.execute("SELECT * FROM skipped").error["ename"] == "TableNotFound"


def test_missing_startup_file_named_by_a_setting_is_reported(start_kernel, tmp_path):
    missing = tmp_path / "nope.sql"
    k = start_kernel(tmp_path / "home", LAKEHOUSE_STARTUP_FILE=str(missing))
    run = k.ok("SELECT 1")
    assert f"{missing}: the file named by LAKEHOUSE_STARTUP_FILE does not exist" in stderr(run), run.describe()


def test_no_limits_keep_the_defaults(start_kernel, tmp_path):
    env = {"LAKEHOUSE_SPILL_DIR": str(tmp_path / "spill")}
    k = start_kernel(tmp_path / "home", **env)
    limits = {r[0]: r[1:] for r in table(k.ok("SHOW LIMITS"), 3)}
    assert limits["memory"] == ["no limit", "MEM_LIMIT not set"]
    assert limits["memory pool (queries)"][0].startswith("unbounded")
    cores = str(len(os.sched_getaffinity(0)))
    assert limits["target partitions"] == [cores, "default (cores)"]
