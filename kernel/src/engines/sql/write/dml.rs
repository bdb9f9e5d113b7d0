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
use crate::lakehouse::{self, Deleted, Overwritten, TableTarget, Updated};

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

/// TRUNCATE TABLE t: every row deleted in one commit (Spark's, on Iceberg tables).
pub(super) async fn truncate(
    engine: &SqlEngine,
    target: &TableTarget,
    started: Instant,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    let done = lakehouse::delete(target, &engine.ctx.state(), None)
        .await
        .map_err(|e| cell_error(engine, fail, e))?;
    let rows = match done {
        Deleted::Rows { rows, .. } => rows,
        Deleted::Empty | Deleted::NoMatch => 0,
    };
    let _ = out.send(Output::Message(format!(
        "Truncated {}: deleted {} ({} ms)",
        target.name,
        plural(rows, "row"),
        started.elapsed().as_millis()
    )));
    Ok(())
}

/// UPDATE t SET c = value, … [WHERE condition]: DataFusion plans it as a projection (the new
/// value of every column, cast to its type) over the filtered table; the assigned columns are
/// the ones whose expression is not the column itself.
pub(super) async fn update(
    engine: &SqlEngine,
    target: &TableTarget,
    dml: &DmlStatement,
    started: Instant,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    let lake = |e| cell_error(engine, fail, e);
    target.require_custom_commits("UPDATE").map_err(lake)?;
    let unsupported = || {
        CellError::new(
            ErrorKind::NotSupported,
            "this UPDATE form is not supported (UPDATE … FROM, or a subquery); write UPDATE t SET c = value, … [WHERE condition]",
        )
    };
    let LogicalPlan::Projection(projection) = dml.input.as_ref() else {
        return Err(unsupported());
    };
    let predicate = match projection.input.as_ref() {
        LogicalPlan::Filter(f) if matches!(f.input.as_ref(), LogicalPlan::TableScan(_)) => {
            Some(unqualify(f.predicate.clone()).map_err(fail)?)
        }
        LogicalPlan::TableScan(_) => None,
        _ => return Err(unsupported()),
    };
    if predicate.as_ref().is_some_and(has_subquery) {
        return Err(unsupported());
    }
    let mut assignments = vec![];
    for (expr, field) in projection.expr.iter().zip(projection.schema.fields()) {
        let value = match expr {
            Expr::Alias(a) => a.expr.as_ref(),
            e => e,
        };
        if matches!(value, Expr::Column(c) if c.name == *field.name()) {
            continue;
        }
        if has_subquery(value) {
            return Err(unsupported());
        }
        assignments.push((
            field.name().clone(),
            unqualify(value.clone()).map_err(fail)?,
        ));
    }
    let done = lakehouse::update(target, &engine.ctx.state(), predicate, assignments)
        .await
        .map_err(lake)?;
    let msg = match done {
        Updated::Empty => format!("Updated 0 rows in {}: it has no rows", target.name),
        Updated::NoMatch => format!(
            "Updated 0 rows in {}: no row matches ({} ms)",
            target.name,
            started.elapsed().as_millis()
        ),
        Updated::Rows { rows, rewritten } => format!(
            "Updated {} in {} ({} rewritten) ({} ms)",
            plural(rows, "row"),
            target.name,
            plural(rewritten as u64, "data file"),
            started.elapsed().as_millis()
        ),
    };
    let _ = out.send(Output::Message(msg));
    Ok(())
}

fn has_subquery(e: &Expr) -> bool {
    e.exists(|e| {
        Ok(matches!(
            e,
            Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_)
        ))
    })
    .unwrap_or(true)
}
