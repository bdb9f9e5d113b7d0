//! INSERT INTO: rows appended with iceberg's own fast append, which every catalog kind takes
//! (the REST catalog included), retried with a jittered backoff when concurrent writers
//! collide.

use std::collections::HashMap;

use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use iceberg::spec::DataFile;
use iceberg::table::Table;
use iceberg::Catalog;

use super::data_files::delete_quietly;
use super::data_files::write_data_files;
use super::{LakehouseError, Result, TableTarget};

/// Writes the rows of `input` into `target` and appends them in one snapshot (nothing when
/// the query returns no rows). Returns the number of rows written.
pub async fn append(target: &TableTarget, state: &SessionState, input: LogicalPlan) -> Result<u64> {
    let base = target.load().await?;
    let files = write_data_files(state, &base, input).await?;
    let rows: u64 = files.iter().map(DataFile::record_count).sum();
    fast_append(target.catalog.as_ref(), &base, files, &target.summary)
        .await
        .map_err(|e| LakehouseError::iceberg(format!("cannot insert into {}", target.name), e))?;
    Ok(rows)
}

/// Appends `files` to `table` with iceberg's own fast append (a conflicting concurrent append
/// is retried after a jittered backoff, see [`append_with_retries`]), with `summary` in the
/// snapshot summary. On failure the files are deleted.
pub async fn fast_append(
    catalog: &dyn Catalog,
    table: &Table,
    files: Vec<DataFile>,
    summary: &HashMap<String, String>,
) -> iceberg::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let paths: Vec<String> = files.iter().map(|f| f.file_path().to_string()).collect();
    match append_with_retries(catalog, table, files, summary.clone()).await {
        Ok(_) => Ok(()),
        Err(e) => {
            delete_quietly(table.file_io(), &paths).await;
            Err(e)
        }
    }
}

/// Appends `files` to `table` with iceberg's fast append, retrying a conflicting concurrent
/// commit (iceberg marks those retryable) after a jittered exponential backoff.
///
/// iceberg-rust's `Transaction::commit` retries itself, but its backoff has no jitter: ten
/// writers that collide retry at the same instants again, one wins per round, and the last
/// waited 51.7 s. So each attempt here is a single-try transaction (on a copy of the table
/// whose `commit.retry.num-retries` is 0) and the waits between attempts are drawn at random
/// ("full jitter") up to the exponential bound the table's `commit.retry.*` properties give;
/// `commit.retry.num-retries` and `commit.retry.total-timeout-ms` still bound the attempts.
pub async fn append_with_retries(
    catalog: &dyn Catalog,
    table: &Table,
    files: Vec<DataFile>,
    summary: std::collections::HashMap<String, String>,
) -> iceberg::Result<Table> {
    use iceberg::transaction::{ApplyTransactionAction, Transaction};
    let props = table.metadata().table_properties()?;
    let single = single_attempt(table)?;
    let started = std::time::Instant::now();
    let total = std::time::Duration::from_millis(props.commit_total_retry_timeout_ms);
    let mut attempt = 0;
    loop {
        let tx = Transaction::new(&single);
        let tx = tx
            .fast_append()
            .set_snapshot_properties(summary.clone())
            .add_data_files(files.clone())
            .apply(tx)?;
        match tx.commit(catalog).await {
            Err(e) if e.retryable() && attempt < props.commit_num_retries => {
                let wait = retry_delay(
                    props.commit_min_retry_wait_ms,
                    props.commit_max_retry_wait_ms,
                    attempt,
                    jitter_fraction(),
                );
                if started.elapsed() + wait > total {
                    return Err(e);
                }
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// `table` with `commit.retry.num-retries` = 0, so a transaction on it tries once (it
/// reloads the table from the catalog before committing, so nothing else of it is used).
fn single_attempt(table: &Table) -> iceberg::Result<Table> {
    let mut props = table.metadata().properties().clone();
    props.insert("commit.retry.num-retries".to_string(), "0".to_string());
    let metadata =
        iceberg::spec::TableMetadataBuilder::new_from_metadata(table.metadata().clone(), None)
            .set_properties(props)?
            .build()?
            .metadata;
    let mut builder = Table::builder()
        .metadata(metadata)
        .identifier(table.identifier().clone())
        .file_io(table.file_io().clone())
        .readonly(table.readonly())
        .runtime(iceberg::Runtime::try_current()?);
    if let Some(location) = table.metadata_location() {
        builder = builder.metadata_location(location);
    }
    builder.build()
}

/// The wait before retry `attempt` (0 for the first retry): uniform between `min_ms` and the
/// exponential bound `min_ms · 2^attempt` (at most `max_ms`), placed by `fraction` in [0, 1).
pub fn retry_delay(min_ms: u64, max_ms: u64, attempt: usize, fraction: f64) -> std::time::Duration {
    let bound = (min_ms as f64 * 2f64.powi(attempt.min(40) as i32)).min(max_ms as f64);
    let low = (min_ms as f64).min(bound);
    std::time::Duration::from_secs_f64((low + (bound - low) * fraction) / 1000.0)
}

/// A random number in [0, 1) (from a v4 UUID's random bits: no extra dependency).
fn jitter_fraction() -> f64 {
    #[cfg(test)]
    if NO_JITTER.load(std::sync::atomic::Ordering::Relaxed) {
        // The measurement in engines/sql/write/tests.rs compares with iceberg's fixed schedule.
        return 1.0;
    }
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

/// Tests only: make every wait the exponential bound, as iceberg's own retry does.
#[cfg(test)]
pub static NO_JITTER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
