//! UPDATE, copy-on-write: the data files that hold a matching row are rewritten with the new
//! values in those rows and the others as they were, all in one commit (an overwrite that
//! drops the old files and adds the new). Files iceberg rules out by partition and column
//! statistics are not read.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::datasource::{provider_as_source, MemTable};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use datafusion::physical_expr::PhysicalExpr;
use futures::TryStreamExt;
use iceberg::spec::Operation;
use iceberg::Error;

use super::data_files::write_data_files;
use super::delete::candidate_files;
use super::snapshot::{Removal, SnapshotChange};
use super::{LakehouseError, Result, TableTarget};

/// What an UPDATE did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updated {
    /// The table has no snapshot (no rows): no commit.
    Empty,
    /// No row matches the condition: no commit.
    NoMatch,
    /// Committed: `rows` rows changed in `rewritten` rewritten data files.
    Rows { rows: u64, rewritten: usize },
}

/// Sets `assignments` (column name, new value) in the rows of `target` for which `predicate`
/// is TRUE (not NULL), or in every row when there is none. Expressions name the table's
/// columns unqualified and give the column's type; they are evaluated with `state`'s
/// functions on the rows as they were.
pub async fn update(
    target: &TableTarget,
    state: &SessionState,
    predicate: Option<Expr>,
    assignments: Vec<(String, Expr)>,
) -> Result<Updated> {
    target.require_custom_commits("UPDATE")?;
    let base = target.load().await?;
    if base.metadata().current_snapshot().is_none() {
        return Ok(Updated::Empty);
    }
    let ice = |e: Error| LakehouseError::iceberg(format!("cannot read {}", base.identifier()), e);
    let tasks = candidate_files(&base, predicate.as_ref()).await?;
    let mut remove = HashSet::new();
    let mut rewritten_batches: Vec<RecordBatch> = vec![];
    let mut rows = 0u64;
    let mut rewritten = 0usize;
    let mut compiled: Option<Compiled> = None;
    for mut task in tasks {
        task.predicate = None;
        let path = task.data_file_path.clone();
        let mut stream = base
            .reader_builder()
            .build()
            .read(Box::pin(futures::stream::iter([Ok(task)])))
            .map_err(ice)?
            .stream();
        let mut batches = vec![];
        let mut matched = 0u64;
        while let Some(batch) = stream.try_next().await.map_err(ice)? {
            if compiled.is_none() {
                compiled = Some(Compiled::new(state, &batch, &predicate, &assignments)?);
            }
            let c = compiled.as_ref().expect("set above");
            let (batch, n) = c.apply(&batch)?;
            matched += n;
            batches.push(batch);
        }
        if matched == 0 {
            continue;
        }
        rows += matched;
        rewritten += 1;
        remove.insert(path);
        rewritten_batches.extend(batches.into_iter().filter(|b| b.num_rows() > 0));
    }
    if remove.is_empty() {
        return Ok(Updated::NoMatch);
    }
    let added = if rewritten_batches.is_empty() {
        vec![]
    } else {
        let schema = rewritten_batches[0].schema();
        let mem = MemTable::try_new(schema, vec![rewritten_batches])?;
        let input =
            LogicalPlanBuilder::scan("updated_rows", provider_as_source(Arc::new(mem)), None)
                .and_then(|b| b.build())?;
        write_data_files(state, &base, input).await?
    };
    let change = SnapshotChange {
        operation: Operation::Overwrite,
        added,
        removal: Removal::Paths(remove),
        properties: target.summary.clone(),
    };
    // No retry: rows appended meanwhile might match the condition (serializable, as DELETE).
    target
        .commit_change(base, None, change, vec![], false)
        .await?;
    Ok(Updated::Rows { rows, rewritten })
}

/// The condition and the new values, compiled for the files' rows.
struct Compiled {
    predicate: Option<(Arc<dyn PhysicalExpr>, String)>,
    /// Column index in the batch → its new value.
    values: Vec<(usize, Arc<dyn PhysicalExpr>)>,
}

impl Compiled {
    fn new(
        state: &SessionState,
        batch: &RecordBatch,
        predicate: &Option<Expr>,
        assignments: &[(String, Expr)],
    ) -> Result<Self> {
        let schema = DFSchema::try_from(batch.schema().as_ref().clone())?;
        let not_evaluable =
            |what: &Expr, e: DataFusionError| LakehouseError::ConditionNotEvaluable {
                condition: what.to_string(),
                reason: e.strip_backtrace(),
            };
        let predicate = match predicate {
            Some(p) => Some((
                state
                    .create_physical_expr(p.clone(), &schema)
                    .map_err(|e| not_evaluable(p, e))?,
                p.to_string(),
            )),
            None => None,
        };
        let mut values = vec![];
        for (name, value) in assignments {
            let Some(i) = batch.schema().index_of(name).ok() else {
                return Err(LakehouseError::DataFusion(DataFusionError::Plan(format!(
                    "UPDATE sets {name}, which the table's data files do not have"
                ))));
            };
            values.push((
                i,
                state
                    .create_physical_expr(value.clone(), &schema)
                    .map_err(|e| not_evaluable(value, e))?,
            ));
        }
        Ok(Compiled { predicate, values })
    }

    /// The batch with the new values in its matching rows, and how many matched.
    fn apply(&self, batch: &RecordBatch) -> Result<(RecordBatch, u64)> {
        let n = batch.num_rows();
        let mask: BooleanArray = match &self.predicate {
            None => BooleanArray::from(vec![true; n]),
            Some((eval, text)) => {
                let value = eval.evaluate(batch).and_then(|v| v.into_array(n))?;
                let Some(mask) = value.as_boolean_opt() else {
                    return Err(LakehouseError::ConditionNotBoolean {
                        condition: text.clone(),
                        data_type: value.data_type().to_string(),
                    });
                };
                // NULL is not a match.
                (0..n)
                    .map(|i| Some(mask.is_valid(i) && mask.value(i)))
                    .collect()
            }
        };
        let matched = mask.true_count() as u64;
        if matched == 0 {
            return Ok((batch.clone(), 0));
        }
        let arrow = |e| DataFusionError::ArrowError(Box::new(e), None);
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for (i, eval) in &self.values {
            let old = &batch.columns()[*i];
            let new = eval.evaluate(batch).and_then(|v| v.into_array(n))?;
            let new = if new.data_type() == old.data_type() {
                new
            } else {
                cast(&new, old.data_type()).map_err(arrow)?
            };
            columns[*i] = zip(&mask, &new, old).map_err(arrow)?;
        }
        let out = RecordBatch::try_new(batch.schema(), columns).map_err(arrow)?;
        Ok((out, matched))
    }
}
