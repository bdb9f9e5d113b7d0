//! Resource limits: JupyterHub's `MEM_LIMIT` / `CPU_LIMIT` and the kernel's own overrides.
//!
//! [`Limits::resolve`] reads them with no side effects (called from `config.rs`);
//! [`Limits::session`] then builds DataFusion's runtime from them: a fair spill pool sized
//! from the memory limit minus headroom for the kernel itself, and a disk manager that
//! spills to a per-user folder with its own size cap.
//!
//! Precedence, first found wins:
//! - memory: `LAKEHOUSE_MEMORY_LIMIT`, `memory_limit` (config file), `MEM_LIMIT`; else no limit.
//! - CPU: `LAKEHOUSE_CPU_LIMIT`, `cpu_limit`, `CPU_LIMIT`; else all cores. Target partitions
//!   and engine threads are `max(1, ceil(cpu))`; `LAKEHOUSE_TARGET_PARTITIONS` /
//!   `target_partitions` set the partitions alone.
//! - spill: `LAKEHOUSE_SPILL_DIR` / `spill_dir` (default: `<temp dir>/lakehouse-spill-<user>`),
//!   `LAKEHOUSE_SPILL_LIMIT` / `spill_limit` (default 10 GiB; 0 turns spilling off).

use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, MemoryLimit, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;
use serde::Deserialize;

use crate::config::{ConfigError, SettingRow};

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
pub const TIB: u64 = 1 << 40;

/// Headroom kept out of the memory pool for the kernel itself (code, catalog, sockets,
/// batches in flight that DataFusion does not track): the pool is
/// `max(25% of the limit, min(70% of the limit, limit − 256 MiB))`.
pub const HEADROOM: u64 = 256 * MIB;
/// Spill cap when none is set.
pub const DEFAULT_SPILL_LIMIT: u64 = 10 * GIB;

/// Where a limit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An environment variable.
    Env(&'static str),
    /// A key of the config file.
    File(&'static str),
    /// Nothing set: the kernel's default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env(v) => f.write_str(v),
            Source::File(k) => write!(f, "{k} in the config file"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A size in the config file: a number of bytes or a string such as `"4G"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FileSize {
    Bytes(u64),
    Text(String),
}

/// The limit keys of the config file (moved out of config.rs's `FileSettings`).
#[derive(Debug, Default)]
pub struct FileLimits {
    pub memory_limit: Option<FileSize>,
    pub cpu_limit: Option<f64>,
    pub target_partitions: Option<usize>,
    pub spill_dir: Option<PathBuf>,
    pub spill_limit: Option<FileSize>,
}

/// The resolved limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Memory limit in bytes; `None`: no limit (the pool is unbounded and nothing spills).
    pub memory: Option<u64>,
    pub memory_source: Source,
    /// `MEM_LIMIT` as JupyterHub gave it, when an override replaced it.
    pub hub_memory: Option<u64>,
    /// CPU limit in cores; `None`: all cores.
    pub cpu: Option<f64>,
    pub cpu_source: Source,
    /// DataFusion's target partitions; `None`: DataFusion's default (the number of cores).
    pub target_partitions: Option<usize>,
    pub partitions_source: Source,
    /// The folder spill files go to (DataFusion makes a `datafusion-*` folder inside).
    pub spill_dir: PathBuf,
    pub spill_dir_source: Source,
    /// Cap on spilled bytes; 0 turns spilling off.
    pub spill_limit: u64,
    pub spill_limit_source: Source,
}

impl Limits {
    /// Resolves the limits from environment lookups and the config file's keys.
    pub fn resolve(
        get: &dyn Fn(&str) -> Option<String>,
        file: FileLimits,
    ) -> Result<Limits, ConfigError> {
        // Memory.
        let hub = match get("MEM_LIMIT") {
            Some(v) => parse_size(&v).map_err(|_| bad("MEM_LIMIT", &v, SIZE_EXPECTED))?,
            None => None,
        };
        let (memory, memory_source) = if let Some(v) = get("LAKEHOUSE_MEMORY_LIMIT") {
            let m = parse_size(&v).map_err(|_| bad("LAKEHOUSE_MEMORY_LIMIT", &v, SIZE_EXPECTED))?;
            (m, Source::Env("LAKEHOUSE_MEMORY_LIMIT"))
        } else if let Some(v) = file.memory_limit {
            (file_size("memory_limit", v)?, Source::File("memory_limit"))
        } else if hub.is_some() {
            (hub, Source::Env("MEM_LIMIT"))
        } else {
            (None, Source::Default)
        };
        let hub_memory = hub.filter(|_| memory_source != Source::Env("MEM_LIMIT"));
        // CPU.
        let (cpu, cpu_source) = if let Some(v) = get("LAKEHOUSE_CPU_LIMIT") {
            let c = parse_cpu(&v).map_err(|_| bad("LAKEHOUSE_CPU_LIMIT", &v, CPU_EXPECTED))?;
            (c, Source::Env("LAKEHOUSE_CPU_LIMIT"))
        } else if let Some(c) = file.cpu_limit {
            let c = check_cpu(c).map_err(|_| bad("cpu_limit", &c.to_string(), CPU_EXPECTED))?;
            (c, Source::File("cpu_limit"))
        } else if let Some(v) = get("CPU_LIMIT") {
            let c = parse_cpu(&v).map_err(|_| bad("CPU_LIMIT", &v, CPU_EXPECTED))?;
            (
                c,
                if c.is_some() {
                    Source::Env("CPU_LIMIT")
                } else {
                    Source::Default
                },
            )
        } else {
            (None, Source::Default)
        };
        let (target_partitions, partitions_source) =
            if let Some(v) = get("LAKEHOUSE_TARGET_PARTITIONS") {
                let n = v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        bad(
                            "LAKEHOUSE_TARGET_PARTITIONS",
                            &v,
                            "a whole number greater than 0",
                        )
                    })?;
                (Some(n), Source::Env("LAKEHOUSE_TARGET_PARTITIONS"))
            } else if let Some(n) = file.target_partitions {
                if n == 0 {
                    return Err(bad(
                        "target_partitions",
                        "0",
                        "a whole number greater than 0",
                    ));
                }
                (Some(n), Source::File("target_partitions"))
            } else {
                (cpu.map(partitions_for), cpu_source)
            };
        // Spilling.
        let (spill_dir, spill_dir_source) = if let Some(v) = get("LAKEHOUSE_SPILL_DIR") {
            (absolute(Path::new(&v)), Source::Env("LAKEHOUSE_SPILL_DIR"))
        } else if let Some(p) = file.spill_dir {
            (absolute(&p), Source::File("spill_dir"))
        } else {
            let tmp = get("TMPDIR")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            // The hub's user name first: on a shared host every server may run as one OS user.
            let user = get("JUPYTERHUB_USER")
                .or_else(|| get("USER"))
                .or_else(|| get("LOGNAME"))
                .unwrap_or_else(uid);
            let user: String = user
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            (tmp.join(format!("lakehouse-spill-{user}")), Source::Default)
        };
        let (spill_limit, spill_limit_source) = if let Some(v) = get("LAKEHOUSE_SPILL_LIMIT") {
            let n = parse_size(&v)
                .map_err(|_| bad("LAKEHOUSE_SPILL_LIMIT", &v, SIZE_EXPECTED))?
                .unwrap_or(0);
            (n, Source::Env("LAKEHOUSE_SPILL_LIMIT"))
        } else if let Some(v) = file.spill_limit {
            (
                file_size("spill_limit", v)?.unwrap_or(0),
                Source::File("spill_limit"),
            )
        } else {
            (DEFAULT_SPILL_LIMIT, Source::Default)
        };
        Ok(Limits {
            memory,
            memory_source,
            hub_memory,
            cpu,
            cpu_source,
            target_partitions,
            partitions_source,
            spill_dir,
            spill_dir_source,
            spill_limit,
            spill_limit_source,
        })
    }

    /// Bytes DataFusion's memory pool may hand out, or `None` for no limit.
    pub fn pool_size(&self) -> Option<u64> {
        self.memory.map(pool_size_for)
    }

    /// Worker threads of the engine's tokio runtime; `None`: one per core (tokio's default).
    pub fn engine_threads(&self) -> Option<usize> {
        self.cpu.map(partitions_for)
    }

    /// The session's configuration and DataFusion runtime for these limits. Creates the
    /// spill folder (only readable by this user).
    pub fn session(
        &self,
        config: SessionConfig,
    ) -> Result<(SessionConfig, Arc<RuntimeEnv>), String> {
        let config = match self.target_partitions {
            Some(n) => config.with_target_partitions(n),
            None => config,
        };
        let mut disk = DiskManagerBuilder::default();
        if self.spill_limit == 0 {
            disk = disk.with_mode(DiskManagerMode::Disabled);
        } else {
            create_private_dir(&self.spill_dir).map_err(|e| {
                format!(
                    "cannot create the spill folder {} ({e}); set LAKEHOUSE_SPILL_DIR to a folder you can write",
                    self.spill_dir.display()
                )
            })?;
            disk = disk
                .with_mode(DiskManagerMode::Directories(vec![self.spill_dir.clone()]))
                .with_max_temp_directory_size(self.spill_limit);
        }
        let mut rt = RuntimeEnvBuilder::new().with_disk_manager_builder(disk);
        if let Some(pool) = self.pool_size() {
            let pool = usize::try_from(pool).unwrap_or(usize::MAX);
            // The tracking wrapper names the biggest consumers in the error.
            rt = rt.with_memory_pool(Arc::new(TrackConsumersPool::new(
                FairSpillPool::new(pool),
                NonZeroUsize::new(3).expect("3 > 0"),
            )));
        }
        let rt = rt.build_arc().map_err(|e| {
            format!(
                "cannot prepare spilling in {} ({e}); set LAKEHOUSE_SPILL_DIR to a folder you can write",
                self.spill_dir.display()
            )
        })?;
        Ok((config, rt))
    }

    /// Rows for `SHOW SETTINGS` / `lakehouse-kernel settings`: `MEM_LIMIT` and `CPU_LIMIT`
    /// with the effective values, then the kernel's own settings.
    pub fn setting_rows(&self) -> Vec<SettingRow> {
        let spill = if self.spill_limit == 0 {
            "spilling off".to_string()
        } else {
            format!(
                "spill to {}, cap {}",
                self.spill_dir.display(),
                fmt_bytes(self.spill_limit)
            )
        };
        let mem = match (self.memory, self.pool_size()) {
            (Some(m), Some(pool)) => {
                let from = match self.memory_source {
                    Source::Env("MEM_LIMIT") => String::new(),
                    s => format!(" from {s}"),
                };
                format!(
                    "{m} ({}{from}; memory pool {}, {spill})",
                    fmt_bytes(m),
                    fmt_bytes(pool)
                )
            }
            _ => match self.memory_source {
                Source::Default => format!("(not set) no memory limit; {spill}"),
                s => format!("none (no memory limit, from {s}); {spill}"),
            },
        };
        let parts = self
            .target_partitions
            .map_or_else(|| format!("{} (all cores)", cores()), |n| n.to_string());
        let cpu = match self.cpu {
            Some(c) => {
                let from = match self.cpu_source {
                    Source::Env("CPU_LIMIT") => String::new(),
                    s => format!("from {s}; "),
                };
                format!("{} ({from}target partitions {parts})", fmt_cpu(c))
            }
            None => format!("(not set) target partitions {parts}"),
        };
        let set_by = |source: Source, env: &str, file: &str, value: String| match source {
            Source::Env(v) if v == env => value,
            Source::File(k) if k == file => format!("{value} (config file)"),
            _ => "(not set)".to_string(),
        };
        let mem_override = self.memory.map_or_else(|| "none".to_string(), fmt_bytes);
        vec![
            SettingRow {
                env: "MEM_LIMIT",
                value: mem,
            },
            SettingRow {
                env: "CPU_LIMIT",
                value: cpu,
            },
            SettingRow {
                env: "LAKEHOUSE_MEMORY_LIMIT",
                value: set_by(
                    self.memory_source,
                    "LAKEHOUSE_MEMORY_LIMIT",
                    "memory_limit",
                    mem_override,
                ),
            },
            SettingRow {
                env: "LAKEHOUSE_CPU_LIMIT",
                value: set_by(
                    self.cpu_source,
                    "LAKEHOUSE_CPU_LIMIT",
                    "cpu_limit",
                    self.cpu.map_or_else(|| "none".into(), fmt_cpu),
                ),
            },
            SettingRow {
                env: "LAKEHOUSE_TARGET_PARTITIONS",
                value: set_by(
                    self.partitions_source,
                    "LAKEHOUSE_TARGET_PARTITIONS",
                    "target_partitions",
                    self.target_partitions.unwrap_or_default().to_string(),
                ),
            },
            SettingRow {
                env: "LAKEHOUSE_SPILL_DIR",
                value: self.spill_dir.display().to_string(),
            },
            SettingRow {
                env: "LAKEHOUSE_SPILL_LIMIT",
                value: if self.spill_limit == 0 {
                    "0 (spilling off)".into()
                } else {
                    format!("{} ({})", self.spill_limit, fmt_bytes(self.spill_limit))
                },
            },
        ]
    }

    /// `SHOW LIMITS`: (limit, value, source) rows, with the live pool and spill figures of
    /// the session's runtime (`SET datafusion.runtime.…` can change those).
    pub fn show_rows(&self, rt: &RuntimeEnv) -> Vec<Vec<String>> {
        let row = |a: &str, b: String, c: String| vec![a.to_string(), b, c];
        let mut rows = Vec::new();
        rows.push(match self.memory {
            Some(m) => {
                let mut value = format!("{} ({m} bytes)", fmt_bytes(m));
                if let Some(hub) = self.hub_memory.filter(|h| *h < m) {
                    value.push_str(&format!(
                        "; above MEM_LIMIT {}: the server may be killed first",
                        fmt_bytes(hub)
                    ));
                }
                row("memory", value, self.memory_source.to_string())
            }
            None => row(
                "memory",
                "no limit".into(),
                match self.memory_source {
                    Source::Default => "MEM_LIMIT not set".into(),
                    s => s.to_string(),
                },
            ),
        });
        let pool = rt.memory_pool.as_ref();
        let in_use = fmt_bytes(pool.reserved() as u64);
        let configured = self.pool_size().map(|p| p as usize);
        rows.push(match pool.memory_limit() {
            MemoryLimit::Finite(n) => row(
                "memory pool (queries)",
                format!("{} ({in_use} in use)", fmt_bytes(n as u64)),
                if Some(n) == configured {
                    "max(25%, min(70%, memory − 256 MiB))".into()
                } else {
                    "SET datafusion.runtime.memory_limit in this session".into()
                },
            ),
            _ => row(
                "memory pool (queries)",
                format!("unbounded ({in_use} in use; nothing spills)"),
                "no memory limit".into(),
            ),
        });
        rows.push(match self.cpu {
            Some(c) => row(
                "CPU",
                format!("{} cores", fmt_cpu(c)),
                self.cpu_source.to_string(),
            ),
            None => row(
                "CPU",
                format!("no limit ({} cores)", cores()),
                "CPU_LIMIT not set".into(),
            ),
        });
        let derived = |s: Source| match s {
            Source::Default => "default (cores)".to_string(),
            Source::Env(v) if v.ends_with("CPU_LIMIT") => format!("ceil({v})"),
            Source::File("cpu_limit") => "ceil(cpu_limit in the config file)".into(),
            s => s.to_string(),
        };
        rows.push(row(
            "target partitions",
            self.target_partitions.unwrap_or_else(cores).to_string(),
            derived(self.partitions_source),
        ));
        rows.push(row(
            "engine threads",
            self.engine_threads().unwrap_or_else(cores).to_string(),
            derived(self.cpu_source),
        ));
        let disk = &rt.disk_manager;
        if disk.tmp_files_enabled() {
            let dirs = disk.temp_dir_paths();
            rows.push(row(
                "spill directory",
                dirs.first()
                    .map_or_else(|| self.spill_dir.clone(), |d| d.clone())
                    .display()
                    .to_string(),
                match self.spill_dir_source {
                    Source::Default => "default (temp dir + user name)".into(),
                    s => s.to_string(),
                },
            ));
            let cap = disk.max_temp_directory_size();
            rows.push(row(
                "spill cap",
                format!(
                    "{} ({} in use)",
                    fmt_bytes(cap),
                    fmt_bytes(disk.used_disk_space())
                ),
                if cap == self.spill_limit {
                    self.spill_limit_source.to_string()
                } else {
                    "SET datafusion.runtime.max_temp_directory_size in this session".into()
                },
            ));
        } else {
            rows.push(row(
                "spill cap",
                "0 (spilling off)".into(),
                self.spill_limit_source.to_string(),
            ));
        }
        rows
    }

    /// The sentence for a query that did not fit: which limit, what the query asked for,
    /// and what to do. `raw` is DataFusion's "Resources exhausted" message.
    pub fn explain_exhausted(&self, raw: &str) -> String {
        let limit = match (self.memory, self.pool_size()) {
            (Some(m), Some(pool)) => format!(
                "the kernel's limit of {} ({}; {} of it for queries)",
                fmt_bytes(m),
                self.memory_source,
                fmt_bytes(pool)
            ),
            _ => "the kernel's memory".to_string(),
        };
        let raise_mem = match self.memory_source {
            Source::Env("MEM_LIMIT") | Source::Default => "MEM_LIMIT / LAKEHOUSE_MEMORY_LIMIT",
            Source::Env(_) => "LAKEHOUSE_MEMORY_LIMIT",
            Source::File(_) => "memory_limit in the config file",
        };
        let advice = "Reduce the data (filter, fewer columns, a LIMIT before sorting)";
        if let Some(cap) = after(raw, "exceeded the allowable limit of ") {
            let cap = cap.split(". ").next().unwrap_or(cap);
            let cap = cap.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
            let cap = parse_df_size(cap).map_or_else(|| cap.to_string(), fmt_bytes);
            return format!(
                "the query needs more memory than {limit} and more disk to spill to than the spill cap of {cap} ({}, in {}). {advice}, or raise LAKEHOUSE_SPILL_LIMIT (or {raise_mem})",
                self.spill_limit_source_name(),
                self.spill_dir.display()
            );
        }
        if raw.contains("DiskManager is disabled") {
            return format!(
                "the query needs more memory than {limit} and spilling to disk is off ({}=0). {advice}, or allow spilling with LAKEHOUSE_SPILL_LIMIT (or raise {raise_mem})",
                self.spill_limit_source_name()
            );
        }
        let need = parse_allocation(raw).map(|a| {
            format!(
                ": {} wanted {} more with {} in use, {} left for it",
                a.consumer,
                fmt_bytes(a.wanted),
                fmt_bytes(a.in_use),
                fmt_bytes(a.left)
            )
        });
        match need {
            Some(need) => format!(
                "the query needs more memory than {limit}{need}. {advice}, or raise {raise_mem}"
            ),
            None => format!(
                "the query needs more memory than {limit} ({}). {advice}, or raise {raise_mem}",
                raw.lines().last().unwrap_or(raw).trim()
            ),
        }
    }

    fn spill_limit_source_name(&self) -> String {
        match self.spill_limit_source {
            Source::Default => "default of LAKEHOUSE_SPILL_LIMIT".into(),
            s => s.to_string(),
        }
    }
}

/// Waits (up to 2 s) until the memory pool is empty: the tasks of a failed query give their
/// reservations back as they are dropped, a little after the error has arrived.
pub async fn settle(rt: &RuntimeEnv) {
    for _ in 0..200 {
        if rt.memory_pool.reserved() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// `SHOW LIMITS` (case and spacing free).
pub fn is_show_limits(text: &str) -> bool {
    let words: Vec<String> = text
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    words == ["SHOW", "LIMITS"]
}

/// The pool for a memory limit: `max(25% of it, min(70% of it, it − 256 MiB))`.
pub fn pool_size_for(limit: u64) -> u64 {
    let seventy = limit / 10 * 7;
    seventy.min(limit.saturating_sub(HEADROOM)).max(limit / 4)
}

/// Target partitions (and engine threads) for a CPU limit: `max(1, ceil(cpu))`.
pub fn partitions_for(cpu: f64) -> usize {
    (cpu.ceil() as usize).max(1)
}

const SIZE_EXPECTED: &str =
    "a size in bytes, optionally with a suffix K, M, G or T (powers of 1024), e.g. 1073741824 or 4G; or none";
const CPU_EXPECTED: &str = "a number of cores above 0, e.g. 2 or 0.5 (or 500m); or none";

fn bad(var: &'static str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError::BadValue {
        var,
        value: value.to_string(),
        expected,
    }
}

fn file_size(key: &'static str, v: FileSize) -> Result<Option<u64>, ConfigError> {
    match v {
        FileSize::Bytes(0) => Ok(None),
        FileSize::Bytes(n) => Ok(Some(n)),
        FileSize::Text(t) => parse_size(&t).map_err(|_| bad(key, &t, SIZE_EXPECTED)),
    }
}

/// `1073741824`, `1G`, `1.5G`, `512M`, `512Mi`, `4GiB`, `2gb`: bytes, with binary suffixes as
/// JupyterHub's spawners use them. `0`, `none`, `unlimited`: no limit (`None`).
pub fn parse_size(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim().to_ascii_lowercase();
    if matches!(t.as_str(), "0" | "none" | "unlimited" | "off") {
        return Ok(None);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let factor = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "ki" | "kib" => KIB,
        "m" | "mb" | "mi" | "mib" => MIB,
        "g" | "gb" | "gi" | "gib" => GIB,
        "t" | "tb" | "ti" | "tib" => TIB,
        other => return Err(format!("unknown unit {other:?}")),
    };
    let n: f64 = num.parse().map_err(|_| format!("not a number: {num:?}"))?;
    if !n.is_finite() || n < 0.0 {
        return Err("negative".into());
    }
    let bytes = (n * factor as f64).round();
    if bytes >= u64::MAX as f64 {
        return Err("too large".into());
    }
    Ok(Some(bytes as u64).filter(|b| *b > 0))
}

/// `1.5`, `2`, `500m` (millicores): cores. `0` or `none`: no limit.
pub fn parse_cpu(text: &str) -> Result<Option<f64>, String> {
    let t = text.trim().to_ascii_lowercase();
    if matches!(t.as_str(), "0" | "none" | "unlimited" | "off") {
        return Ok(None);
    }
    let n = match t.strip_suffix('m') {
        Some(milli) => milli.trim().parse::<f64>().map(|m| m / 1000.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("not a number: {t:?}"))?;
    check_cpu(n)
}

fn check_cpu(n: f64) -> Result<Option<f64>, String> {
    if !n.is_finite() || n < 0.0 {
        return Err("negative".into());
    }
    Ok(Some(n).filter(|n| *n > 0.0))
}

/// Binary units with one decimal: `512 B`, `1.5 KiB`, `716.8 MiB`, `1.0 GiB`.
pub fn fmt_bytes(n: u64) -> String {
    let (div, unit) = if n >= TIB {
        (TIB, "TiB")
    } else if n >= GIB {
        (GIB, "GiB")
    } else if n >= MIB {
        (MIB, "MiB")
    } else if n >= KIB {
        (KIB, "KiB")
    } else {
        return format!("{n} B");
    };
    format!("{:.1} {unit}", n as f64 / div as f64)
}

fn fmt_cpu(c: f64) -> String {
    if c.fract() == 0.0 {
        format!("{c:.0}")
    } else {
        format!("{c}")
    }
}

/// `uid<N>` of this process (Linux), for a spill folder name when no user name is known.
fn uid() -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::metadata("/proc/self") {
            return format!("uid{}", m.uid());
        }
    }
    "user".into()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// The text after `marker`, if any.
fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|i| &text[i + marker.len()..])
}

/// DataFusion's `human_readable_size` text (`10.0 MB`, powers of 1024) back to bytes.
fn parse_df_size(text: &str) -> Option<u64> {
    let (num, unit) = text.trim().split_once(' ')?;
    let n: f64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "B" => 1,
        "KB" => KIB,
        "MB" => MIB,
        "GB" => GIB,
        "TB" => TIB,
        "PB" => TIB * 1024,
        _ => return None,
    };
    Some((n * factor as f64) as u64)
}

struct Allocation {
    consumer: String,
    wanted: u64,
    in_use: u64,
    left: u64,
}

/// "Failed to allocate additional 10.0 MB for ExternalSorter[0] with 50.0 MB already
/// allocated for this reservation - 2.0 MB remain available for the total pool"
fn parse_allocation(raw: &str) -> Option<Allocation> {
    let rest = after(raw, "Failed to allocate additional ")?;
    let (wanted, rest) = rest.split_once(" for ")?;
    let (consumer, rest) = rest.rsplit_once(" with ")?;
    let (in_use, rest) = rest.split_once(" already allocated")?;
    let left = after(rest, "- ")?.split(" remain").next()?;
    Some(Allocation {
        consumer: consumer.trim().to_string(),
        wanted: parse_df_size(wanted)?,
        in_use: parse_df_size(in_use)?,
        left: parse_df_size(left)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn resolve(pairs: &[(&str, &str)]) -> Result<Limits, ConfigError> {
        resolve_with(pairs, FileLimits::default())
    }

    fn resolve_with(pairs: &[(&str, &str)], file: FileLimits) -> Result<Limits, ConfigError> {
        let env: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Limits::resolve(&|k| env.get(k).cloned(), file)
    }

    #[test]
    fn mem_limit_forms() {
        assert_eq!(parse_size("1073741824"), Ok(Some(GIB)));
        assert_eq!(parse_size("1G"), Ok(Some(GIB)));
        assert_eq!(parse_size("1g"), Ok(Some(GIB)));
        assert_eq!(parse_size("1Gi"), Ok(Some(GIB)));
        assert_eq!(parse_size("1GiB"), Ok(Some(GIB)));
        assert_eq!(parse_size("1GB"), Ok(Some(GIB)));
        assert_eq!(parse_size(" 512M "), Ok(Some(512 * MIB)));
        assert_eq!(parse_size("1.5G"), Ok(Some(3 * GIB / 2)));
        assert_eq!(parse_size("2048K"), Ok(Some(2 * MIB)));
        assert_eq!(parse_size("1T"), Ok(Some(TIB)));
        assert_eq!(parse_size("100B"), Ok(Some(100)));
        assert_eq!(parse_size("0"), Ok(None));
        assert_eq!(parse_size("none"), Ok(None));
        for bad in ["", "lots", "1X", "-1G", "1 2", "G"] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
        let l = resolve(&[("MEM_LIMIT", "1G")]).unwrap();
        assert_eq!(l.memory, Some(GIB));
        assert_eq!(l.memory_source, Source::Env("MEM_LIMIT"));
        let err = resolve(&[("MEM_LIMIT", "much")]).unwrap_err();
        assert!(err.to_string().contains("MEM_LIMIT"), "{err}");
    }

    #[test]
    fn cpu_limit_may_be_fractional() {
        assert_eq!(parse_cpu("0.5"), Ok(Some(0.5)));
        assert_eq!(parse_cpu("1.5"), Ok(Some(1.5)));
        assert_eq!(parse_cpu("500m"), Ok(Some(0.5)));
        assert_eq!(parse_cpu("0"), Ok(None));
        assert!(parse_cpu("-1").is_err());
        assert!(parse_cpu("two").is_err());
        assert_eq!(partitions_for(0.5), 1);
        assert_eq!(partitions_for(1.0), 1);
        assert_eq!(partitions_for(1.5), 2);
        assert_eq!(partitions_for(4.0), 4);
        let l = resolve(&[("CPU_LIMIT", "1.5")]).unwrap();
        assert_eq!(l.cpu, Some(1.5));
        assert_eq!(l.target_partitions, Some(2));
        assert_eq!(l.engine_threads(), Some(2));
        let l = resolve(&[("CPU_LIMIT", "0.5")]).unwrap();
        assert_eq!(
            (l.target_partitions, l.engine_threads()),
            (Some(1), Some(1))
        );
        let err = resolve(&[("CPU_LIMIT", "-2")]).unwrap_err();
        assert!(err.to_string().contains("CPU_LIMIT"), "{err}");
    }

    #[test]
    fn nothing_set_keeps_todays_behaviour() {
        let l = resolve(&[
            ("USER", "jovyan"),
            ("JUPYTERHUB_USER", "ann"),
            ("TMPDIR", "/scratch"),
        ])
        .unwrap();
        assert_eq!(l.memory, None);
        assert_eq!(l.pool_size(), None);
        assert_eq!(l.cpu, None);
        assert_eq!(l.target_partitions, None);
        assert_eq!(l.engine_threads(), None);
        assert_eq!(l.spill_dir, PathBuf::from("/scratch/lakehouse-spill-ann"));
        assert_eq!(l.spill_limit, DEFAULT_SPILL_LIMIT);
        let l2 = resolve(&[("USER", "a b/c"), ("TMPDIR", "/scratch")]).unwrap();
        assert_eq!(
            l2.spill_dir,
            PathBuf::from("/scratch/lakehouse-spill-a_b_c")
        );
        let rows = l.setting_rows();
        assert_eq!(rows[0].env, "MEM_LIMIT");
        assert!(rows[0].value.starts_with("(not set)"), "{}", rows[0].value);
        assert_eq!(rows[1].env, "CPU_LIMIT");
    }

    #[test]
    fn kernel_settings_override_jupyterhub() {
        let l = resolve(&[
            ("MEM_LIMIT", "1073741824"),
            ("LAKEHOUSE_MEMORY_LIMIT", "2G"),
            ("CPU_LIMIT", "1.5"),
            ("LAKEHOUSE_CPU_LIMIT", "3"),
        ])
        .unwrap();
        assert_eq!(l.memory, Some(2 * GIB));
        assert_eq!(l.memory_source, Source::Env("LAKEHOUSE_MEMORY_LIMIT"));
        assert_eq!(l.hub_memory, Some(GIB));
        assert_eq!(l.cpu, Some(3.0));
        assert_eq!(l.target_partitions, Some(3));
        // Target partitions alone; threads still follow the CPU limit.
        let l = resolve(&[("CPU_LIMIT", "1.5"), ("LAKEHOUSE_TARGET_PARTITIONS", "8")]).unwrap();
        assert_eq!(l.target_partitions, Some(8));
        assert_eq!(l.engine_threads(), Some(2));
        // `none` switches the hub's limit off.
        let l = resolve(&[("MEM_LIMIT", "1G"), ("LAKEHOUSE_MEMORY_LIMIT", "none")]).unwrap();
        assert_eq!(l.memory, None);
        let rows = l.setting_rows();
        assert!(rows[0].value.starts_with("none"), "{}", rows[0].value);
        // The config file overrides the hub too, and the environment overrides the file.
        let file = || FileLimits {
            memory_limit: Some(FileSize::Text("512M".into())),
            cpu_limit: Some(2.0),
            target_partitions: None,
            spill_dir: Some(PathBuf::from("/data/spill")),
            spill_limit: Some(FileSize::Bytes(MIB)),
        };
        let l = resolve_with(&[("MEM_LIMIT", "1G"), ("CPU_LIMIT", "1")], file()).unwrap();
        assert_eq!(l.memory, Some(512 * MIB));
        assert_eq!(l.memory_source, Source::File("memory_limit"));
        assert_eq!(l.cpu, Some(2.0));
        assert_eq!(l.spill_dir, PathBuf::from("/data/spill"));
        assert_eq!(l.spill_limit, MIB);
        let l = resolve_with(
            &[
                ("LAKEHOUSE_MEMORY_LIMIT", "768M"),
                ("LAKEHOUSE_SPILL_DIR", "/fast"),
                ("LAKEHOUSE_SPILL_LIMIT", "0"),
            ],
            file(),
        )
        .unwrap();
        assert_eq!(l.memory, Some(768 * MIB));
        assert_eq!(l.spill_dir, PathBuf::from("/fast"));
        assert_eq!(l.spill_limit, 0);
    }

    #[test]
    fn pool_leaves_headroom() {
        // 1 GiB: 70% (716.8 MiB) is below limit − 256 MiB (768 MiB).
        assert_eq!(pool_size_for(GIB), GIB / 10 * 7);
        assert_eq!(fmt_bytes(pool_size_for(GIB)), "716.8 MiB");
        // 512 MiB: limit − 256 MiB is smaller.
        assert_eq!(pool_size_for(512 * MIB), 256 * MIB);
        // 256 MiB: never below a quarter of the limit.
        assert_eq!(pool_size_for(256 * MIB), 64 * MIB);
        // 8 GiB: 70%.
        assert_eq!(pool_size_for(8 * GIB), 8 * GIB / 10 * 7);
        let l = resolve(&[("MEM_LIMIT", "1G"), ("CPU_LIMIT", "1.5")]).unwrap();
        let rows = l.setting_rows();
        assert!(
            rows[0]
                .value
                .starts_with("1073741824 (1.0 GiB; memory pool 716.8 MiB, spill to "),
            "{}",
            rows[0].value
        );
        assert!(
            rows[0].value.ends_with(", cap 10.0 GiB)"),
            "{}",
            rows[0].value
        );
        assert_eq!(rows[1].value, "1.5 (target partitions 2)");
    }

    #[test]
    fn exhausted_names_the_limit_and_the_need() {
        let l = resolve(&[("MEM_LIMIT", "1G")]).unwrap();
        let raw = "Resources exhausted: Additional allocation failed for ExternalSorter[0] with top memory consumers (across reservations) as:\n  ExternalSorter[0]#3(can spill: true) consumed 700.0 MB, peak 700.0 MB.\nError: Failed to allocate additional 20.0 MB for ExternalSorter[0] with 700.0 MB already allocated for this reservation - 16.8 MB remain available for the total pool";
        let m = l.explain_exhausted(raw);
        assert_eq!(
            m,
            "the query needs more memory than the kernel's limit of 1.0 GiB (MEM_LIMIT; 716.8 MiB of it for queries): \
             ExternalSorter[0] wanted 20.0 MiB more with 700.0 MiB in use, 16.8 MiB left for it. \
             Reduce the data (filter, fewer columns, a LIMIT before sorting), or raise MEM_LIMIT / LAKEHOUSE_MEMORY_LIMIT"
        );
        let raw = "Resources exhausted: The used disk space during the spilling process has exceeded the allowable limit of 1024.0 KB. Try increasing the `max_temp_directory_size` in the disk manager configuration.";
        let m = l.explain_exhausted(raw);
        assert!(
            m.contains("spill cap of 1.0 MiB (default of LAKEHOUSE_SPILL_LIMIT"),
            "{m}"
        );
        assert!(m.contains("raise LAKEHOUSE_SPILL_LIMIT"), "{m}");
        let l = resolve(&[
            ("LAKEHOUSE_MEMORY_LIMIT", "256M"),
            ("LAKEHOUSE_SPILL_LIMIT", "0"),
        ])
        .unwrap();
        let m = l.explain_exhausted(
            "Resources exhausted: Memory Exhausted while Spill (DiskManager is disabled)",
        );
        assert!(
            m.contains("256.0 MiB (LAKEHOUSE_MEMORY_LIMIT")
                && m.contains("spilling to disk is off"),
            "{m}"
        );
    }

    #[test]
    fn show_limits_is_recognised() {
        assert!(is_show_limits("show  limits"));
        assert!(is_show_limits("SHOW LIMITS\n"));
        assert!(!is_show_limits("SHOW LIMITS x"));
    }

    #[test]
    fn session_builds_a_bounded_pool_and_a_private_spill_folder() {
        let dir = std::env::temp_dir().join(format!("lh-limits-{}", std::process::id()));
        let spill = dir.join("a/b/spill");
        let s = spill.display().to_string();
        let l = resolve(&[
            ("MEM_LIMIT", "1G"),
            ("CPU_LIMIT", "1.5"),
            ("LAKEHOUSE_SPILL_DIR", &s),
            ("LAKEHOUSE_SPILL_LIMIT", "1M"),
        ])
        .unwrap();
        let (config, rt) = l.session(SessionConfig::new()).unwrap();
        assert_eq!(config.target_partitions(), 2);
        assert!(
            matches!(rt.memory_pool.memory_limit(), MemoryLimit::Finite(n) if n as u64 == GIB / 10 * 7)
        );
        assert_eq!(rt.disk_manager.max_temp_directory_size(), MIB);
        assert!(rt.disk_manager.temp_dir_paths()[0].starts_with(&spill));
        let rows = l.show_rows(&rt);
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(
            names,
            [
                "memory",
                "memory pool (queries)",
                "CPU",
                "target partitions",
                "engine threads",
                "spill directory",
                "spill cap"
            ]
        );
        assert_eq!(rows[1][1], "716.8 MiB (0 B in use)");
        assert_eq!(rows[3][1], "2");
        assert_eq!(rows[3][2], "ceil(CPU_LIMIT)");
        drop(rt);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
