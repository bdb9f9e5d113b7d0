//! Helpers for the engine's unit tests: a real `SqlEngine` on a temporary `LAKEHOUSE_HOME`.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use super::{Output, SqlEngine, TableOutput};
use crate::error::CellError;
use crate::settings::Settings;

/// A session on the embedded catalog in `dir`.
pub async fn engine(dir: &std::path::Path) -> SqlEngine {
    engine_with(dir, &[]).await
}

/// A session on the embedded catalog in `dir`, with more settings (`LAKEHOUSE_…` keys).
pub async fn engine_with(dir: &std::path::Path, extra: &[(&str, &str)]) -> SqlEngine {
    let mut env = BTreeMap::from([("LAKEHOUSE_HOME".to_string(), dir.display().to_string())]);
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    SqlEngine::new(Settings::from_map(&env).unwrap())
        .await
        .unwrap()
}

/// Runs a cell; its outputs and its result.
pub async fn run(e: &SqlEngine, sql: &str) -> (Vec<Output>, Result<(), CellError>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let r = e.execute(sql, &tx).await;
    drop(tx);
    let mut outs = vec![];
    while let Some(o) = rx.recv().await {
        outs.push(o);
    }
    (outs, r)
}

/// The cell's last output, which must be a result table.
pub fn last_table(outs: &[Output]) -> &TableOutput {
    match outs.last() {
        Some(Output::Table(t)) => t,
        other => panic!("expected a result table last, got {other:?}"),
    }
}

/// The column names of a result table.
pub fn column_names(t: &TableOutput) -> Vec<&str> {
    t.schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect()
}

/// Every row of a result as text, column by column.
pub fn rows(t: &TableOutput) -> Vec<Vec<String>> {
    use datafusion::arrow::util::display::array_value_to_string;
    let mut out = vec![];
    for b in &t.batches {
        for r in 0..b.num_rows() {
            out.push(
                (0..b.num_columns())
                    .map(|c| array_value_to_string(b.column(c), r).unwrap())
                    .collect(),
            );
        }
    }
    out
}

/// A fresh folder for one test.
pub fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("lh-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}
