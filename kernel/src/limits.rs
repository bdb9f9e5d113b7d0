//! What the session does with the resource limits (`crate::settings::limits` resolves them):
//! [`Limits::session`] builds DataFusion's runtime from them (a fair spill pool sized from the
//! memory limit minus headroom for the kernel itself, and a disk manager that spills to a
//! per-user folder with its own size cap); `SHOW LIMITS`; and the message of a query that did
//! not fit.
//!
//! These are methods of the settings' [`Limits`], kept here so the settings stay free of
//! DataFusion and of I/O.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, MemoryLimit, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;

use crate::settings::limits::{cores, fmt_bytes, fmt_cpu, Source, GIB, KIB, MIB, TIB};
use crate::settings::{Id, Limits};

impl Limits {
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
            Source::Env(v @ (Id::CpuLimit | Id::LakehouseCpuLimit)) => format!("ceil({})", v.env()),
            Source::File(Id::LakehouseCpuLimit) => {
                format!("ceil({} in the config file)", Id::LakehouseCpuLimit.key())
            }
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
            Source::Env(Id::MemLimit) | Source::Default => "MEM_LIMIT / LAKEHOUSE_MEMORY_LIMIT",
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

/// Gives the memory a finished statement freed back to the system. glibc's allocator keeps
/// freed blocks in its arenas, so after a large join or sort (or one stopped by an interrupt)
/// the kernel's RSS stayed hundreds of MiB above where it was, which counts against a
/// JupyterHub memory limit as if it were still in use. Takes milliseconds; called after cells
/// that ran long enough to have allocated much.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes its locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::defs::FileSettings;
    use crate::settings::ConfigError;
    use std::collections::BTreeMap;

    fn resolve(pairs: &[(&str, &str)]) -> Result<Limits, ConfigError> {
        let env: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Limits::resolve(&|k| env.get(k).cloned(), &mut FileSettings::default())
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
