//! Completion latency with 50 tables, on the embedded catalog and — when `NESSIE_URI` and the
//! S3 settings are in the environment, e.g. after `eval "$(python3 -m tests.services start)"`
//! — on Nessie.
//!
//! ```sh
//! cargo test --release --workspace --bench completion -- --bench
//! ```
//!
//! Prints the median / p90 / max of 300 completions per case (the cache warm, as while
//! typing), of the first completion after DDL (cache dropped), and of listing the catalog
//! once (what every completion cost before the cache); then criterion's estimates for the
//! warm cases. Nothing is asserted.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use lakehouse_kernel::catalog::{self, LakehouseCatalog};
use lakehouse_kernel::engines::sql::SqlEngine;
use lakehouse_kernel::settings::Settings;
use tokio::runtime::Runtime;

const TABLES: usize = 50;
const SAMPLES: usize = 300;

/// `|` marks the cursor.
fn cases(schema: &str, nessie: bool) -> Vec<(&'static str, String)> {
    let mut cases = vec![
        ("keyword", "SEL|".to_string()),
        ("schemas after FROM", "SELECT * FROM |".to_string()),
        ("tables of a schema", format!("SELECT * FROM {schema}.t1|")),
        ("alias columns", format!("SELECT e.| FROM {schema}.t07 e")),
        (
            "columns + functions",
            format!("SELECT * FROM {schema}.t07 WHERE a|"),
        ),
    ];
    if nessie {
        cases.push(("branch names", "USE REFERENCE m|".to_string()));
    }
    cases
}

fn split(marked: &str) -> (String, usize) {
    let cursor = marked
        .chars()
        .position(|c| c == '|')
        .expect("a | in the case");
    (marked.replacen('|', "", 1), cursor)
}

struct Target {
    label: &'static str,
    engine: SqlEngine,
    settings: Settings,
    schema: String,
    nessie: bool,
}

fn settings(home: &std::path::Path, nessie: bool) -> Settings {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    if nessie {
        for (k, v) in std::env::vars() {
            if k.starts_with("NESSIE_") || k.starts_with("AWS_") || k == "LAKEHOUSE_WAREHOUSE" {
                env.insert(k, v);
            }
        }
        env.insert("LAKEHOUSE_CATALOG".into(), "nessie".into());
    } else {
        env.insert("LAKEHOUSE_CATALOG".into(), "embedded".into());
    }
    env.insert("LAKEHOUSE_HOME".into(), home.display().to_string());
    Settings::from_map(&env).expect("settings")
}

async fn run(engine: &SqlEngine, sql: &str) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let result = engine.execute(sql, &tx).await;
    drop(tx);
    while rx.recv().await.is_some() {}
    if let Err(e) = result {
        panic!("{sql}: {} {}", e.ename(), e.evalue);
    }
}

fn target(rt: &Runtime, label: &'static str, nessie: bool) -> Target {
    let home = std::env::temp_dir().join(format!("lh-bench-completion-{}", std::process::id()));
    let settings = settings(&home.join(label), nessie);
    let schema = format!("bench{}", std::process::id());
    let engine = rt.block_on(async {
        let engine = SqlEngine::new(settings.clone()).await.expect("engine");
        let mut cell = format!("CREATE SCHEMA {schema};");
        for i in 0..TABLES {
            cell.push_str(&format!(
                "CREATE TABLE {schema}.t{i:02} (id BIGINT, customer_id STRING, event_type STRING, \
                 amount DOUBLE, ts TIMESTAMP, country STRING, quantity INT, note STRING);"
            ));
        }
        run(&engine, &cell).await;
        engine
    });
    Target {
        label,
        engine,
        settings,
        schema,
        nessie,
    }
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{:>8.3} ms {:>8.3} ms {:>8.3} ms",
        ms(at(0.5)),
        ms(at(0.9)),
        ms(*v.last().unwrap())
    )
}

fn report(rt: &Runtime, t: &Target) {
    for (name, marked) in cases(&t.schema, t.nessie) {
        let (code, cursor) = split(&marked);
        let mut matches = 0;
        for _ in 0..5 {
            matches = rt.block_on(t.engine.complete(&code, cursor)).matches.len();
            std::thread::sleep(Duration::from_millis(20));
        }
        let samples = (0..SAMPLES)
            .map(|_| {
                let start = Instant::now();
                black_box(rt.block_on(t.engine.complete(&code, cursor)));
                start.elapsed()
            })
            .collect();
        println!(
            "  {:<9} {:<32} {}  ({matches} matches)",
            t.label,
            name,
            stats(samples)
        );
    }
    // The first completion after DDL: the cache is dropped, the columns are fetched.
    let (code, cursor) = split(&format!("SELECT e.| FROM {}.t07 e", t.schema));
    let samples = (0..20)
        .map(|i| {
            rt.block_on(run(
                &t.engine,
                &format!("CREATE TABLE {}.scratch{i} (x INT)", t.schema),
            ));
            let start = Instant::now();
            let c = rt.block_on(t.engine.complete(&code, cursor));
            let took = start.elapsed();
            assert_eq!(c.matches.len(), 8, "{c:?}");
            rt.block_on(run(
                &t.engine,
                &format!("DROP TABLE {}.scratch{i}", t.schema),
            ));
            took
        })
        .collect();
    println!(
        "  {:<9} {:<32} {}",
        t.label,
        "alias columns, first after DDL",
        stats(samples)
    );
    // What every completion paid before: listing the catalog.
    let cat = rt
        .block_on(catalog::open(&t.settings))
        .expect("catalog")
        .catalog;
    let samples = (0..30)
        .map(|_| {
            let start = Instant::now();
            black_box(
                rt.block_on(LakehouseCatalog::list(cat.as_ref()))
                    .expect("list"),
            );
            start.elapsed()
        })
        .collect();
    println!(
        "  {:<9} {:<32} {}",
        t.label,
        "listing the catalog (old, per Tab)",
        stats(samples)
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut targets = vec![target(&rt, "embedded", false)];
    if std::env::var("NESSIE_URI").is_ok_and(|v| !v.is_empty()) {
        targets.push(target(&rt, "nessie", true));
    } else {
        println!(
            "NESSIE_URI is not set: Nessie skipped (eval \"$(python3 -m tests.services start)\")"
        );
    }
    println!(
        "\ncompletion latency, {TABLES} tables ({SAMPLES} requests per case):\n  {:<9} {:<32} {:>11} {:>11} {:>11}",
        "catalog", "case", "median", "p90", "max"
    );
    for t in &targets {
        report(&rt, t);
    }
    println!();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .configure_from_args();
    for t in &targets {
        for (name, marked) in cases(&t.schema, t.nessie) {
            let (code, cursor) = split(&marked);
            c.bench_function(&format!("complete/{}/{name}", t.label), |b| {
                b.iter(|| rt.block_on(t.engine.complete(black_box(&code), cursor)))
            });
        }
    }
    c.final_summary();
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("lh-bench-completion-{}", std::process::id())),
    );
}
