//! Resource limits as settings: JupyterHub's `MEM_LIMIT` / `CPU_LIMIT` and the kernel's own
//! overrides, resolved with no side effects, and their `SHOW SETTINGS` values.
//!
//! What the session does with them (DataFusion's memory pool and spilling, `SHOW LIMITS`,
//! the message of a query that did not fit) is `crate::limits`, which imports this.
//!
//! Precedence, first found wins:
//! - memory: `LAKEHOUSE_MEMORY_LIMIT`, `memory_limit` (config file), `MEM_LIMIT`; else no limit.
//! - CPU: `LAKEHOUSE_CPU_LIMIT`, `cpu_limit`, `CPU_LIMIT`; else all cores. Target partitions
//!   and engine threads are `max(1, ceil(cpu))`; `LAKEHOUSE_TARGET_PARTITIONS` /
//!   `target_partitions` set the partitions alone.
//! - spill: `LAKEHOUSE_SPILL_DIR` / `spill_dir` (default: `<temp dir>/lakehouse-spill-<user>`),
//!   `LAKEHOUSE_SPILL_LIMIT` / `spill_limit` (default 10 GiB; 0 turns spilling off).

use std::fmt;
use std::path::{Path, PathBuf};

use super::defs::{FileSettings, FileSize, Id};
use super::{absolute, ConfigError};

/// A kibibyte.
pub const KIB: u64 = 1 << 10;
/// A mebibyte.
pub const MIB: u64 = 1 << 20;
/// A gibibyte.
pub const GIB: u64 = 1 << 30;
/// A tebibyte.
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
    /// The setting's environment variable.
    Env(Id),
    /// The setting's key in the config file.
    File(Id),
    /// Nothing set: the kernel's default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env(id) => f.write_str(id.env()),
            Source::File(id) => write!(f, "{} in the config file", id.key()),
            Source::Default => f.write_str("default"),
        }
    }
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
    /// The limit keys are taken out of `file`.
    pub fn resolve(
        get: &dyn Fn(&str) -> Option<String>,
        file: &mut FileSettings,
    ) -> Result<Limits, ConfigError> {
        let var = |id: Id| get(id.env());
        // Memory.
        let hub = match var(Id::MemLimit) {
            Some(v) => parse_size(&v).map_err(|_| bad(Id::MemLimit.env(), &v, SIZE_EXPECTED))?,
            None => None,
        };
        let (memory, memory_source) = if let Some(v) = var(Id::MemoryLimit) {
            let m = parse_size(&v).map_err(|_| bad(Id::MemoryLimit.env(), &v, SIZE_EXPECTED))?;
            (m, Source::Env(Id::MemoryLimit))
        } else if let Some(v) = file.memory_limit.take() {
            (
                file_size(Id::MemoryLimit.key(), v)?,
                Source::File(Id::MemoryLimit),
            )
        } else if hub.is_some() {
            (hub, Source::Env(Id::MemLimit))
        } else {
            (None, Source::Default)
        };
        let hub_memory = hub.filter(|_| memory_source != Source::Env(Id::MemLimit));
        // CPU.
        let (cpu, cpu_source) = if let Some(v) = var(Id::LakehouseCpuLimit) {
            let c =
                parse_cpu(&v).map_err(|_| bad(Id::LakehouseCpuLimit.env(), &v, CPU_EXPECTED))?;
            (c, Source::Env(Id::LakehouseCpuLimit))
        } else if let Some(c) = file.cpu_limit.take() {
            let c = check_cpu(c)
                .map_err(|_| bad(Id::LakehouseCpuLimit.key(), &c.to_string(), CPU_EXPECTED))?;
            (c, Source::File(Id::LakehouseCpuLimit))
        } else if let Some(v) = var(Id::CpuLimit) {
            let c = parse_cpu(&v).map_err(|_| bad(Id::CpuLimit.env(), &v, CPU_EXPECTED))?;
            (
                c,
                if c.is_some() {
                    Source::Env(Id::CpuLimit)
                } else {
                    Source::Default
                },
            )
        } else {
            (None, Source::Default)
        };
        let (target_partitions, partitions_source) = if let Some(v) = var(Id::TargetPartitions) {
            let n = v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    bad(
                        Id::TargetPartitions.env(),
                        &v,
                        "a whole number greater than 0",
                    )
                })?;
            (Some(n), Source::Env(Id::TargetPartitions))
        } else if let Some(n) = file.target_partitions.take() {
            if n == 0 {
                return Err(bad(
                    Id::TargetPartitions.key(),
                    "0",
                    "a whole number greater than 0",
                ));
            }
            (Some(n), Source::File(Id::TargetPartitions))
        } else {
            (cpu.map(partitions_for), cpu_source)
        };
        // Spilling.
        let (spill_dir, spill_dir_source) = if let Some(v) = var(Id::SpillDir) {
            (absolute(Path::new(&v)), Source::Env(Id::SpillDir))
        } else if let Some(p) = file.spill_dir.take() {
            (absolute(&p), Source::File(Id::SpillDir))
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
        let (spill_limit, spill_limit_source) = if let Some(v) = var(Id::SpillLimit) {
            let n = parse_size(&v)
                .map_err(|_| bad(Id::SpillLimit.env(), &v, SIZE_EXPECTED))?
                .unwrap_or(0);
            (n, Source::Env(Id::SpillLimit))
        } else if let Some(v) = file.spill_limit.take() {
            (
                file_size(Id::SpillLimit.key(), v)?.unwrap_or(0),
                Source::File(Id::SpillLimit),
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

    /// The value in force of a limit setting as `SHOW SETTINGS` words it: `MEM_LIMIT` and
    /// `CPU_LIMIT` with the effective values, then the kernel's own settings (`None`: not
    /// set; also for settings that are not limits).
    pub fn value(&self, id: Id) -> Option<String> {
        let set_by = |source: Source, value: String| match source {
            Source::Env(v) if v == id => Some(value),
            Source::File(k) if k == id => Some(format!("{value} (config file)")),
            _ => None,
        };
        match id {
            Id::MemLimit => Some(self.shown_memory()),
            Id::CpuLimit => Some(self.shown_cpu()),
            Id::MemoryLimit => set_by(
                self.memory_source,
                self.memory.map_or_else(|| "none".to_string(), fmt_bytes),
            ),
            Id::LakehouseCpuLimit => set_by(
                self.cpu_source,
                self.cpu.map_or_else(|| "none".into(), fmt_cpu),
            ),
            Id::TargetPartitions => set_by(
                self.partitions_source,
                self.target_partitions.unwrap_or_default().to_string(),
            ),
            Id::SpillDir => Some(self.spill_dir.display().to_string()),
            Id::SpillLimit => Some(if self.spill_limit == 0 {
                "0 (spilling off)".into()
            } else {
                format!("{} ({})", self.spill_limit, fmt_bytes(self.spill_limit))
            }),
            _ => None,
        }
    }

    /// The `MEM_LIMIT` row: the limit in force, its pool and where spills go.
    fn shown_memory(&self) -> String {
        let spill = if self.spill_limit == 0 {
            "spilling off".to_string()
        } else {
            format!(
                "spill to {}, cap {}",
                self.spill_dir.display(),
                fmt_bytes(self.spill_limit)
            )
        };
        match (self.memory, self.pool_size()) {
            (Some(m), Some(pool)) => {
                let from = match self.memory_source {
                    Source::Env(Id::MemLimit) => String::new(),
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
        }
    }

    /// The `CPU_LIMIT` row: the cores in force and the target partitions they give.
    fn shown_cpu(&self) -> String {
        let parts = self
            .target_partitions
            .map_or_else(|| format!("{} (all cores)", cores()), |n| n.to_string());
        match self.cpu {
            Some(c) => {
                let from = match self.cpu_source {
                    Source::Env(Id::CpuLimit) => String::new(),
                    s => format!("from {s}; "),
                };
                format!("{} ({from}target partitions {parts})", fmt_cpu(c))
            }
            None => format!("(not set) target partitions {parts}"),
        }
    }
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
fn parse_size(text: &str) -> Result<Option<u64>, String> {
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
fn parse_cpu(text: &str) -> Result<Option<f64>, String> {
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

/// Cores as written: `2`, `1.5`.
pub(crate) fn fmt_cpu(c: f64) -> String {
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

/// The cores this process may use.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::SettingRow;
    use std::collections::BTreeMap;

    /// The limits' `SHOW SETTINGS` rows, in the definitions' order (`MEM_LIMIT` first).
    fn setting_rows(l: &Limits) -> Vec<SettingRow> {
        crate::settings::defs::ALL
            .iter()
            .filter(|d| (Id::MemLimit..=Id::SpillLimit).contains(&d.id))
            .map(|d| SettingRow {
                env: d.env,
                value: l.value(d.id).unwrap_or_else(|| "(not set)".into()),
            })
            .collect()
    }

    fn resolve(pairs: &[(&str, &str)]) -> Result<Limits, ConfigError> {
        resolve_with(pairs, FileSettings::default())
    }

    fn resolve_with(pairs: &[(&str, &str)], mut file: FileSettings) -> Result<Limits, ConfigError> {
        let env: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Limits::resolve(&|k| env.get(k).cloned(), &mut file)
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
        assert_eq!(l.memory_source, Source::Env(Id::MemLimit));
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
        let rows = setting_rows(&l);
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
        assert_eq!(l.memory_source, Source::Env(Id::MemoryLimit));
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
        let rows = setting_rows(&l);
        assert!(rows[0].value.starts_with("none"), "{}", rows[0].value);
        // The config file overrides the hub too, and the environment overrides the file.
        let file = || FileSettings {
            memory_limit: Some(FileSize::Text("512M".into())),
            cpu_limit: Some(2.0),
            target_partitions: None,
            spill_dir: Some(PathBuf::from("/data/spill")),
            spill_limit: Some(FileSize::Bytes(MIB)),
            ..FileSettings::default()
        };
        let l = resolve_with(&[("MEM_LIMIT", "1G"), ("CPU_LIMIT", "1")], file()).unwrap();
        assert_eq!(l.memory, Some(512 * MIB));
        assert_eq!(l.memory_source, Source::File(Id::MemoryLimit));
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
        let rows = setting_rows(&l);
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
}
