//! DELETE: data files whose rows all match are dropped whole (decided from partition values
//! without reading them where the condition names only identity-partition columns), files
//! that match partly are rewritten without their matching rows (copy-on-write), all in one
//! commit.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::datasource::{provider_as_source, MemTable};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use futures::TryStreamExt;
use iceberg::scan::FileScanTask;
use iceberg::table::Table;
use iceberg::Error;

use super::data_files::write_data_files;
use super::partition_decider::PartitionDecider;
use super::snapshot::{Removal, SnapshotChange};
use super::{LakehouseError, Result, TableTarget};

/// What a DELETE did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The table has no snapshot (no rows): no commit.
    Empty,
    /// No row matches the condition: no commit.
    NoMatch,
    /// Committed: `rows` rows deleted, `dropped_files` data files dropped whole and
    /// `rewritten` files rewritten without their matching rows.
    Rows {
        rows: u64,
        dropped_files: usize,
        rewritten: usize,
    },
}

/// Deletes the rows of `target` for which `predicate` is TRUE (not NULL), or every row when
/// there is none. The predicate's columns are the table's, unqualified; it is evaluated with
/// `state`'s functions.
pub async fn delete(
    target: &TableTarget,
    state: &SessionState,
    predicate: Option<Expr>,
) -> Result<Deleted> {
    target.require_custom_commits("DELETE")?;
    let base = target.load().await?;
    if base.metadata().current_snapshot().is_none() {
        return Ok(Deleted::Empty);
    }
    let (removal, added, deleted_rows, whole, rewritten) = match predicate {
        None => (Removal::All, vec![], None, None, 0usize),
        Some(p) => {
            let plan = plan_delete(state, &base, p).await?;
            if plan.remove.is_empty() {
                return Ok(Deleted::NoMatch);
            }
            let rewritten = plan.rewritten;
            let added = if plan.kept.is_empty() {
                vec![]
            } else {
                let schema = plan.kept[0].schema();
                let mem = MemTable::try_new(schema, vec![plan.kept])?;
                let input =
                    LogicalPlanBuilder::scan("kept_rows", provider_as_source(Arc::new(mem)), None)
                        .and_then(|b| b.build())?;
                write_data_files(state, &base, input).await?
            };
            (
                Removal::Paths(plan.remove),
                added,
                Some(plan.deleted_rows),
                Some(plan.whole),
                rewritten,
            )
        }
    };
    let change = SnapshotChange::rows(added, removal, target.summary.clone());
    // No retry: rows appended meanwhile might match the condition (serializable, as
    // Iceberg's default isolation for DELETE).
    let (removed_files, removed_rows) = target
        .commit_change(base, None, change, vec![], false)
        .await?;
    Ok(Deleted::Rows {
        rows: deleted_rows.unwrap_or(removed_rows),
        dropped_files: whole.unwrap_or(removed_files),
        rewritten,
    })
}

/// What a DELETE with a condition does to the data files.
struct DeletePlan {
    /// Paths of the files the new snapshot drops (all matching, or rewritten).
    remove: HashSet<String>,
    /// The rows of partly matching files that stay, to be written again.
    kept: Vec<RecordBatch>,
    deleted_rows: u64,
    /// Files dropped whole (every row matched).
    whole: usize,
    /// Files rewritten without their matching rows.
    rewritten: usize,
}

/// Reads the files that may hold matching rows (iceberg prunes the others by partition and
/// column statistics from the condition, where it can convert it) and evaluates the
/// condition on every row: a row is deleted when the condition is TRUE (not NULL).
async fn plan_delete(state: &SessionState, base: &Table, predicate: Expr) -> Result<DeletePlan> {
    let ice = |e: Error| LakehouseError::iceberg(format!("cannot read {}", base.identifier()), e);
    let tasks = candidate_files(base, Some(&predicate)).await?;
    // The condition on partition values alone, for files it can decide without reading.
    let by_partition = PartitionDecider::new(state, base, &predicate);
    let mut plan = DeletePlan {
        remove: HashSet::new(),
        kept: vec![],
        deleted_rows: 0,
        whole: 0,
        rewritten: 0,
    };
    for mut task in tasks {
        match by_partition.as_ref().and_then(|d| d.decide(&task)) {
            Some(true) => {
                plan.deleted_rows += task.record_count.unwrap_or(0);
                plan.remove.insert(task.data_file_path.clone());
                plan.whole += 1;
                continue;
            }
            Some(false) => continue,
            None => {}
        }
        // All rows of the file are needed, not only the matching ones.
        task.predicate = None;
        let path = task.data_file_path.clone();
        let stream = base
            .reader_builder()
            .build()
            .read(Box::pin(futures::stream::iter([Ok(task)])))
            .map_err(ice)?;
        let mut stream = stream.stream();
        let mut evaluator: Option<Arc<dyn datafusion::physical_expr::PhysicalExpr>> = None;
        let mut kept = vec![];
        let mut matched = 0u64;
        while let Some(batch) = stream.try_next().await.map_err(ice)? {
            if evaluator.is_none() {
                let schema = DFSchema::try_from(batch.schema().as_ref().clone())?;
                evaluator = Some(
                    state
                        .create_physical_expr(predicate.clone(), &schema)
                        .map_err(|e| LakehouseError::ConditionNotEvaluable {
                            condition: predicate.to_string(),
                            reason: e.strip_backtrace(),
                        })?,
                );
            }
            let eval = evaluator.as_ref().expect("set above");
            let value = eval
                .evaluate(&batch)
                .and_then(|v| v.into_array(batch.num_rows()))?;
            let Some(mask) = value.as_boolean_opt() else {
                return Err(LakehouseError::ConditionNotBoolean {
                    condition: predicate.to_string(),
                    data_type: value.data_type().to_string(),
                });
            };
            let keep: BooleanArray = (0..mask.len())
                .map(|i| Some(!(mask.is_valid(i) && mask.value(i))))
                .collect();
            let kept_here = keep.true_count();
            matched += (batch.num_rows() - kept_here) as u64;
            if kept_here > 0 {
                kept.push(
                    filter_record_batch(&batch, &keep)
                        .map_err(|e| DataFusionError::ArrowError(Box::new(e), None))?,
                );
            }
        }
        if matched == 0 {
            continue;
        }
        plan.deleted_rows += matched;
        plan.remove.insert(path);
        if kept.is_empty() {
            plan.whole += 1;
        } else {
            plan.rewritten += 1;
            plan.kept.extend(kept);
        }
    }
    Ok(plan)
}

/// The data files that may hold a row matching `predicate` (all of them without one): iceberg
/// prunes the others by partition and column statistics where it can convert the condition,
/// and a condition it cannot bind (a literal of another type) reads every file.
pub(super) async fn candidate_files(
    base: &Table,
    predicate: Option<&Expr>,
) -> Result<Vec<FileScanTask>> {
    let ice = |e: Error| LakehouseError::iceberg(format!("cannot read {}", base.identifier()), e);
    // Only for pruning: files it rules out cannot hold a matching row.
    let pruning = predicate.and_then(|p| {
        iceberg_datafusion::physical_plan::convert_filters_to_predicate(std::slice::from_ref(p))
    });
    let plan = |filter: Option<iceberg::expr::Predicate>| async move {
        let mut scan = base.scan();
        if let Some(p) = filter {
            scan = scan.with_filter(p);
        }
        scan.build()?
            .plan_files()
            .await?
            .try_collect::<Vec<_>>()
            .await
    };
    match plan(pruning.clone()).await {
        Ok(t) => Ok(t),
        Err(_) if pruning.is_some() => plan(None).await.map_err(ice),
        Err(e) => Err(ice(e)),
    }
}
