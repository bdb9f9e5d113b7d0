//! SQL behaviour as sqllogictest files: each `.slt` file under `kernel/tests/slt/` runs on a
//! fresh kernel session (on a temporary embedded catalog, and on Nessie + S3 on a fresh
//! branch when `NESSIE_URI` is set), then a selection of DataFusion's own upstream files runs
//! through the same session (see `sqllogictests/upstream.rs`).
//!
//! ```sh
//! cargo test --release -p lakehouse-kernel --test sqllogictests            # everything
//! cargo test --release -p lakehouse-kernel --test sqllogictests -- writes  # paths containing "writes"
//! ```
//!
//! Every failing record is printed with its file, line, SQL and expected against actual
//! output; the last line counts records passed, failed and skipped, and the process fails when
//! any record failed. Files run in parallel (`LAKEHOUSE_SLT_JOBS`, default 4), one session
//! each. `LAKEHOUSE_SLT_UPSTREAM=0` leaves the upstream files out.

#[path = "sqllogictests/db.rs"]
mod db;
#[path = "sqllogictests/upstream.rs"]
mod upstream;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sqllogictest::{Record, RecordOutput, Runner};

use db::{Col, KernelDb};

/// Which catalog a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Catalog {
    Embedded,
    Nessie,
}

impl Catalog {
    fn name(self) -> &'static str {
        match self {
            Catalog::Embedded => "embedded",
            Catalog::Nessie => "nessie",
        }
    }
}

/// One file on one catalog.
struct Job {
    path: PathBuf,
    /// How the report names it (`slt/writes.slt`, `upstream/strings.slt`).
    shown: String,
    catalog: Catalog,
    upstream: bool,
}

/// What running one file gave.
#[derive(Default)]
struct Outcome {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// Upstream records run with a change, or skipped, by reason.
    adapted: BTreeMap<upstream::Adapted, usize>,
    failures: Vec<String>,
    elapsed: Duration,
}

fn main() -> ExitCode {
    // `cargo test -- <filter>…`: words are path filters; flags meant for libtest are ignored.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |shown: &str| filters.is_empty() || filters.iter().any(|f| shown.contains(f));
    let started = Instant::now();
    let mut jobs = Vec::new();
    let mut problems = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut own = Vec::new();
    collect(&root.join("slt"), &mut own);
    own.sort();
    let nessie = std::env::var("NESSIE_URI").is_ok_and(|v| !v.trim().is_empty());
    for catalog in [Catalog::Embedded, Catalog::Nessie] {
        if catalog == Catalog::Nessie && !nessie {
            continue;
        }
        for path in &own {
            let shown = path
                .strip_prefix(&root)
                .unwrap_or(path)
                .display()
                .to_string();
            if wanted(&shown) {
                jobs.push(Job {
                    path: path.clone(),
                    shown,
                    catalog,
                    upstream: false,
                });
            }
        }
    }
    if !nessie {
        println!(
            "NESSIE_URI is not set: the .slt files run on the embedded catalog only \
             (eval \"$(python3 -m tests.services start)\" for Nessie + S3)"
        );
    }
    let upstream_wanted: Vec<&str> = upstream::FILES
        .iter()
        .copied()
        .filter(|f| wanted(&format!("upstream/{f}")))
        .collect();
    if std::env::var("LAKEHOUSE_SLT_UPSTREAM").is_ok_and(|v| v == "0") {
        println!("LAKEHOUSE_SLT_UPSTREAM=0: DataFusion's upstream .slt files left out");
    } else if !upstream_wanted.is_empty() {
        match upstream::test_files() {
            Ok(dir) => {
                for f in upstream_wanted {
                    jobs.push(Job {
                        path: dir.join(f),
                        shown: format!("upstream/{f}"),
                        catalog: Catalog::Embedded,
                        upstream: true,
                    });
                }
            }
            Err(e) => problems.push(format!(
                "DataFusion's upstream .slt files are not available: {e} \
                 (LAKEHOUSE_SLT_UPSTREAM=0 leaves them out)"
            )),
        }
    }
    let parallel = std::env::var("LAKEHOUSE_SLT_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4usize)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let results: Vec<(Job, Outcome)> = rt.block_on(async {
        futures::stream::iter(jobs)
            .map(|job| async move {
                let handle = tokio::spawn(run_job(job.path.clone(), job.catalog, job.upstream));
                let outcome = match handle.await {
                    Ok(o) => o,
                    Err(e) => Outcome {
                        failed: 1,
                        failures: vec![format!("the run panicked: {e}")],
                        ..Outcome::default()
                    },
                };
                (job, outcome)
            })
            .buffer_unordered(parallel)
            .collect()
            .await
    });
    let mut results = results;
    results.sort_by(|a, b| {
        (a.0.upstream, &a.0.shown, a.0.catalog.name()).cmp(&(
            b.0.upstream,
            &b.0.shown,
            b.0.catalog.name(),
        ))
    });
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut adapted: BTreeMap<upstream::Adapted, usize> = BTreeMap::new();
    for (job, o) in &results {
        let extra: Vec<String> = o
            .adapted
            .iter()
            .map(|(k, n)| format!("{n} {}", short(*k)))
            .collect();
        println!(
            "{} {:<40} [{}] {} passed, {} failed, {} skipped{} ({:.1} s)",
            if o.failed == 0 { "ok  " } else { "FAIL" },
            job.shown,
            job.catalog.name(),
            o.passed,
            o.failed,
            o.skipped,
            if extra.is_empty() {
                String::new()
            } else {
                format!("; {}", extra.join(", "))
            },
            o.elapsed.as_secs_f64()
        );
        passed += o.passed;
        failed += o.failed;
        skipped += o.skipped;
        for (k, n) in &o.adapted {
            *adapted.entry(*k).or_default() += n;
        }
    }
    for (job, o) in &results {
        for f in &o.failures {
            println!("\n---- {} [{}] ----\n{f}", job.shown, job.catalog.name());
        }
    }
    for p in &problems {
        println!("\nerror: {p}");
    }
    if !adapted.is_empty() {
        println!("\nupstream records run differently from DataFusion's runner:");
        for (k, n) in &adapted {
            println!("  {n:>5}  {}", k.reason());
        }
    }
    println!(
        "\n{passed} passed, {failed} failed, {skipped} skipped in {} files ({:.1} s)",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    if failed == 0 && problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn short(a: upstream::Adapted) -> &'static str {
    match a {
        upstream::Adapted::Explain => "EXPLAIN skipped",
        upstream::Adapted::ErrorText => "error text not compared",
        upstream::Adapted::InsertCount => "INSERT count not compared",
    }
}

/// Every `.slt` file under `dir`.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "slt") {
            out.push(p);
        }
    }
}

/// Distinguishes the folders and branches of runs in one process.
static RUN: AtomicU64 = AtomicU64::new(0);

/// Settings of a session for `path` on `catalog`, in the fresh folder `home`; on Nessie, a
/// fresh branch made from the configured reference.
async fn settings(
    path: &Path,
    catalog: Catalog,
    home: &Path,
) -> Result<BTreeMap<String, String>, String> {
    std::fs::create_dir_all(home).map_err(|e| format!("{}: {e}", home.display()))?;
    // No user config file and no start-up files: the run sees only what the file says.
    let config = home.join("config.toml");
    std::fs::write(&config, "").map_err(|e| e.to_string())?;
    let mut env = BTreeMap::from([
        ("LAKEHOUSE_HOME".to_string(), home.display().to_string()),
        ("LAKEHOUSE_CONFIG".into(), config.display().to_string()),
        ("LAKEHOUSE_STARTUP_FILE".into(), "none".into()),
        ("LAKEHOUSE_CATALOG".into(), catalog.name().into()),
    ]);
    if catalog == Catalog::Embedded {
        return Ok(env);
    }
    for key in [
        "NESSIE_URI",
        "NESSIE_REF",
        "NESSIE_AUTHENTICATION_TOKEN",
        "LAKEHOUSE_WAREHOUSE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "LAKEHOUSE_S3_PATH_STYLE",
    ] {
        if let Ok(v) = std::env::var(key) {
            env.insert(key.to_string(), v);
        }
    }
    let base = env
        .get("NESSIE_REF")
        .cloned()
        .unwrap_or_else(|| "main".into());
    let stem: String = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let branch = format!(
        "slt_{stem}_{}_{}_{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let first = KernelDb::open(&env, "nessie").await.map_err(|e| e.0)?;
    first
        .must(&format!("CREATE BRANCH {branch} FROM {base}"))
        .await
        .map_err(|e| e.0)?;
    drop(first);
    env.insert("NESSIE_REF".into(), branch);
    Ok(env)
}

/// Runs one file on a fresh session (a `connection` record opens another on the same catalog).
async fn run_job(path: PathBuf, catalog: Catalog, upstream: bool) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome::default();
    let home = std::env::temp_dir().join(format!(
        "lh-slt-{}-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed),
        path.file_stem().unwrap_or_default().to_string_lossy()
    ));
    let _ = std::fs::remove_dir_all(&home);
    let fail = |mut o: Outcome, what: String| {
        o.failed += 1;
        o.failures.push(what);
        o
    };
    let env = match settings(&path, catalog, &home).await {
        // DataFusion's own files test DataFusion's semantics (`7 / 2` is 3 there).
        Ok(mut env) if upstream => {
            env.insert("LAKEHOUSE_DIALECT".into(), "datafusion".into());
            env
        }
        Ok(env) => env,
        Err(e) => return fail(outcome, format!("cannot open a session: {e}")),
    };
    let records = match sqllogictest::parse_file::<Col>(&path) {
        Ok(r) => r,
        Err(e) => return fail(outcome, format!("{}: cannot parse: {e}", path.display())),
    };
    if catalog == Catalog::Nessie {
        // Nessie has no `default` namespace of its own; the embedded catalog creates one.
        match KernelDb::open(&env, "nessie").await {
            Ok(db) => {
                if let Err(e) = db.must("CREATE SCHEMA IF NOT EXISTS default").await {
                    return fail(outcome, format!("cannot prepare the branch: {e}"));
                }
            }
            Err(e) => return fail(outcome, format!("cannot open a session: {e}")),
        }
    }
    let name = catalog.name();
    let mut runner = Runner::new(move || {
        let env = env.clone();
        async move { KernelDb::open(&env, name).await }
    });
    runner.with_column_validator(sqllogictest::strict_column_validator);
    runner.with_validator(db::validate);
    if upstream {
        // Records DataFusion's files mark for DataFusion run here too.
        runner.add_label("DataFusion");
    }
    for mut record in records {
        if matches!(record, Record::Halt { .. }) {
            break;
        }
        let counted = matches!(record, Record::Statement { .. } | Record::Query { .. });
        if upstream && counted {
            match upstream::adapt(&mut record) {
                Ok(Some(why)) => *outcome.adapted.entry(why).or_default() += 1,
                Ok(None) => {}
                Err(why) => {
                    *outcome.adapted.entry(why).or_default() += 1;
                    outcome.skipped += 1;
                    continue;
                }
            }
        }
        match runner.run_async(record).await {
            Ok(RecordOutput::Nothing) if counted => outcome.skipped += 1,
            Ok(_) if counted => outcome.passed += 1,
            Ok(_) => {}
            Err(e) => {
                outcome.failed += 1;
                outcome.failures.push(e.display(false).to_string());
            }
        }
    }
    drop(runner);
    let _ = std::fs::remove_dir_all(&home);
    outcome.elapsed = started.elapsed();
    outcome
}
