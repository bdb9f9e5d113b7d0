//! INSERT INTO, INSERT OVERWRITE and DELETE on Iceberg tables, as DataFusion planned them:
//! the statement's parts go to [`crate::lakehouse`]'s operations and their results become the
//! cell's messages.

use std::time::Instant;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Column;
use datafusion::logical_expr::{DmlStatement, Expr, LogicalPlan};
use tokio::sync::mpsc::UnboundedSender;

use super::super::{Output, SqlEngine};
use super::{cell_error, check_insert_types, plural, Fail};
use crate::error::{CellError, ErrorKind};
use crate::lakehouse::{self, Deleted, Overwritten, TableTarget};

/// INSERT INTO an Iceberg table.
pub(super) async fn append(
    engine: &SqlEngine,
    target: &TableTarget,
    dml: &DmlStatement,
    started: Instant,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    check_insert_types(dml)?;
    let rows = lakehouse::append(target, &engine.ctx.state(), dml.input.as_ref().clone())
        .await
        .map_err(|e| cell_error(engine, fail, e))?;
    let _ = out.send(Output::Message(format!(
        "Inserted {} into {} ({} ms)",
        plural(rows, "row"),
        target.name,
        started.elapsed().as_millis()
    )));
    Ok(())
}

/// INSERT OVERWRITE: dynamic partition overwrite, or full when the table is unpartitioned.
pub(super) async fn overwrite(
    engine: &SqlEngine,
    target: &TableTarget,
    dml: &DmlStatement,
    started: Instant,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    let lake = |e| cell_error(engine, fail, e);
    target
        .require_custom_commits("INSERT OVERWRITE")
        .map_err(lake)?;
    check_insert_types(dml)?;
    let done = lakehouse::overwrite(target, &engine.ctx.state(), dml.input.as_ref().clone())
        .await
        .map_err(lake)?;
    let msg = match done {
        Overwritten::Nothing => format!(
            "Overwrote no partitions of {}: the query returned no rows ({} ms)",
            target.name,
            started.elapsed().as_millis()
        ),
        Overwritten::Replaced {
            rows,
            removed_files,
            removed_rows,
        } => format!(
            "Overwrote {} with {} (replaced {} holding {}) ({} ms)",
            target.name,
            plural(rows, "row"),
            plural(removed_files as u64, "data file"),
            plural(removed_rows, "row"),
            started.elapsed().as_millis()
        ),
    };
    let _ = out.send(Output::Message(msg));
    Ok(())
}

/// Removes the table qualifier DataFusion put on the predicate's columns, so it binds to the
/// batches read from the data files.
fn unqualify(e: Expr) -> datafusion::error::Result<Expr> {
    e.transform(|e| {
        Ok(match e {
            Expr::Column(c) if c.relation.is_some() => {
                Transformed::yes(Expr::Column(Column::new_unqualified(c.name)))
            }
            e => Transformed::no(e),
        })
    })
    .map(|t| t.data)
}

/// DELETE FROM t [WHERE condition].
pub(super) async fn delete(
    engine: &SqlEngine,
    target: &TableTarget,
    dml: &DmlStatement,
    started: Instant,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    let lake = |e| cell_error(engine, fail, e);
    target.require_custom_commits("DELETE").map_err(lake)?;
    let predicate = match dml.input.as_ref() {
        LogicalPlan::Filter(f) => Some(unqualify(f.predicate.clone()).map_err(fail)?),
        LogicalPlan::TableScan(_) => None,
        _ => {
            return Err(CellError::new(
                ErrorKind::NotSupported,
                "this DELETE form is not supported; write DELETE FROM t [WHERE condition]",
            ))
        }
    };
    let done = lakehouse::delete(target, &engine.ctx.state(), predicate)
        .await
        .map_err(lake)?;
    let msg = match done {
        Deleted::Empty => format!("Deleted 0 rows from {}: it has no rows", target.name),
        Deleted::NoMatch => format!(
            "Deleted 0 rows from {}: no row matches ({} ms)",
            target.name,
            started.elapsed().as_millis()
        ),
        Deleted::Rows {
            rows,
            dropped_files,
            rewritten,
        } => format!(
            "Deleted {} from {} ({} dropped, {} rewritten) ({} ms)",
            plural(rows, "row"),
            target.name,
            plural(dropped_files as u64, "data file"),
            rewritten,
            started.elapsed().as_millis()
        ),
    };
    let _ = out.send(Output::Message(msg));
    Ok(())
}
