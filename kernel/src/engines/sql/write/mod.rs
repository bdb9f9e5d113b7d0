//! The SQL front of the write path: the statements the kernel runs itself, beyond
//! iceberg-datafusion's append-only INSERT, read here and carried out by the table operations
//! of [`crate::lakehouse`]:
//!
//! * `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] t (...) [USING iceberg]
//!   [PARTITIONED BY (days(ts), bucket(16, id), truncate(4, s), col, ...)]
//!   [TBLPROPERTIES ('k'='v', ...)] [AS SELECT ...]` (`create.rs`)
//! * `INSERT INTO` / `INSERT OVERWRITE [TABLE] t SELECT ...` (dynamic partition overwrite; full
//!   overwrite when unpartitioned), `DELETE FROM t [WHERE ...]` and `UPDATE` (`dml.rs`)
//! * `MERGE INTO t USING s ON ... WHEN [NOT] MATCHED [BY SOURCE] ...` (`merge.rs`)
//! * `DROP TABLE [IF EXISTS] t PURGE`, `ALTER TABLE t ADD COLUMN / RENAME COLUMN / DROP COLUMN`
//!   (`alter.rs`)
//! * a type check on `INSERT INTO` (a string into a numeric column is refused, as Spark's
//!   ANSI store assignment does, instead of failing or converting row by row).
//!
//! This module resolves the table a statement names (reference, catalog, lineage), and turns
//! the operations' [`LakehouseError`]s into the cell's errors in one place ([`cell_error`]).
//! Each statement is one Iceberg commit: a failing statement leaves the table as it was.

mod alter;
mod create;
mod dml;
mod merge;
mod orphans;

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, TableReference};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{DmlStatement, Expr, ExprSchemable, LogicalPlan, WriteOp};
use datafusion::sql::sqlparser::tokenizer::TokenWithSpan;
use iceberg::{Catalog, ErrorKind as IcebergErrorKind, TableIdent};
use tokio::sync::mpsc::UnboundedSender;

use super::errors;
use super::split::Piece;
use super::{Output, SqlEngine};
use crate::catalog;
use crate::catalog::versioned::TableSpec;
use crate::error::{CellError, ErrorKind};
use crate::lakehouse::{CommitTarget, LakehouseError, TableTarget};
use crate::lineage::CommitLineage;
use alter::{alter, drop_purge};
use create::create;
pub(super) use create::create_planned;
pub(super) use merge::merge;

/// The Nessie commit extras (author, properties) for `lineage`.
pub(super) fn nessie_extra(lineage: &CommitLineage) -> lakehouse_nessie::CommitExtra {
    lakehouse_nessie::CommitExtra {
        author: lineage.author.clone(),
        properties: lineage
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// Turns a DataFusion error into the cell's error (statement context and all).
type Fail<'a> = &'a (dyn Fn(DataFusionError) -> CellError + Sync);

// --- the hooks SqlEngine::execute_piece calls -----------------------------------------------

pub(in crate::engines::sql) use lakehouse_grammar::tokens::{keyword, significant};
pub(in crate::engines::sql) use lakehouse_grammar::write::Early;

/// Runs `CREATE TABLE …`, `ALTER TABLE …` or `DROP TABLE … PURGE`; `tokens` are the
/// statement's.
pub(in crate::engines::sql) async fn run_early(
    engine: &SqlEngine,
    cell: &str,
    piece: &Piece,
    tokens: &[TokenWithSpan],
    kind: Early,
    out: &UnboundedSender<Output>,
) -> Result<(), CellError> {
    match kind {
        Early::Create => create(engine, cell, piece, tokens, out).await,
        Early::Alter => alter(engine, cell, piece, out).await,
        Early::DropPurge => drop_purge(engine, cell, piece, out).await,
        Early::RemoveOrphanFiles => orphans::remove_orphan_files(engine, cell, piece, out).await,
    }
}

/// True for the DML statements [`run_dml`] runs (INSERT OVERWRITE and DELETE on Iceberg
/// tables).
pub(super) fn is_ours(engine: &SqlEngine, dml: &DmlStatement) -> bool {
    matches!(
        dml.op,
        WriteOp::Insert(InsertOp::Overwrite | InsertOp::Append)
            | WriteOp::Delete
            | WriteOp::Update
            | WriteOp::Truncate
    ) && !engine.is_session_object(&dml.table_name)
}

/// Runs INSERT, INSERT OVERWRITE, DELETE or UPDATE on an Iceberg table (see [`is_ours`]).
pub(super) async fn run_dml(
    engine: &SqlEngine,
    dml: DmlStatement,
    started: Instant,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    let target = target(engine, &dml.table_name)?;
    match dml.op {
        WriteOp::Delete => dml::delete(engine, &target, &dml, started, out, fail).await,
        WriteOp::Update => dml::update(engine, &target, &dml, started, out, fail).await,
        WriteOp::Truncate => dml::truncate(engine, &target, started, out, fail).await,
        WriteOp::Insert(InsertOp::Append) => {
            dml::append(engine, &target, &dml, started, out, fail).await
        }
        _ => dml::overwrite(engine, &target, &dml, started, out, fail).await,
    }
}

/// Refuses an INSERT that would store a string in a numeric or boolean column: DataFusion
/// would cast it (failing on the first bad row, or silently converting '12'), Spark refuses
/// it at analysis. The message names the column and both types.
pub(super) fn check_insert_types(dml: &DmlStatement) -> Result<(), CellError> {
    if !matches!(dml.op, WriteOp::Insert(_)) {
        return Ok(());
    }
    let LogicalPlan::Projection(p) = dml.input.as_ref() else {
        return Ok(());
    };
    // `VALUES` rows get the casts inside the Values node (DataFusion types them by the
    // table's columns); a query gets them in the projection.
    let values = match p.input.as_ref() {
        LogicalPlan::Values(v) => Some(v),
        _ => None,
    };
    for (i, (expr, field)) in p.expr.iter().zip(p.schema.fields()).enumerate() {
        let mut found = string_cast(expr, p.input.schema().as_ref());
        if found.is_none() {
            if let (Some(v), Expr::Column(_)) = (values, strip_alias(expr)) {
                found = v
                    .values
                    .iter()
                    .filter_map(|row| row.get(i))
                    .find_map(|e| string_cast(e, &DFSchema::empty()));
            }
        }
        if let Some((from, to)) = found {
            return Err(CellError::new(
                ErrorKind::Type,
                format!(
                    "cannot insert into {}: column '{}' is {} but the value is {}; \
                     write a {} value or convert it with CAST(... AS {})",
                    display(&dml.table_name),
                    field.name(),
                    sql_type(&to),
                    sql_type(&from),
                    sql_type(&to),
                    sql_type(&to)
                ),
            ));
        }
    }
    Ok(())
}

fn strip_alias(e: &Expr) -> &Expr {
    match e {
        Expr::Alias(a) => strip_alias(&a.expr),
        e => e,
    }
}

/// `(from, to)` when `e` casts a string to a number or boolean.
fn string_cast(e: &Expr, schema: &DFSchema) -> Option<(DataType, DataType)> {
    let (source, to) = match strip_alias(e) {
        Expr::Cast(c) => (c.expr.as_ref(), &c.data_type),
        Expr::TryCast(c) => (c.expr.as_ref(), &c.data_type),
        _ => return None,
    };
    let from = source.get_type(schema).ok()?;
    let is_string = matches!(
        from,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    );
    (is_string && (to.is_numeric() || matches!(to, DataType::Boolean))).then(|| (from, to.clone()))
}

/// A SQL name for an Arrow type, as users write it in DDL.
fn sql_type(t: &DataType) -> String {
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "STRING".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
        other => other.to_string(),
    }
}

fn display(r: &TableReference) -> String {
    super::display_name(&r.to_string())
}

// --- where a statement writes ----------------------------------------------------------------

/// The table a statement writes: its name as the user wrote it (with `@ref`), the catalog it
/// is read from, where its commits go, and who, which notebook and cell made them (the
/// snapshot summary keys and, on Nessie, the commit's author and properties, through the
/// catalog).
fn target(engine: &SqlEngine, r: &TableReference) -> Result<TableTarget, CellError> {
    let (schema, table) = engine.resolve(r)?;
    let spec = TableSpec::parse(&table)?;
    let name = format!("{schema}.{}", spec.display());
    if spec.metadata.is_some() || spec.snapshot.is_some() || spec.point.is_some() {
        return Err(CellError::new(
            ErrorKind::ReadOnlyTable,
            format!(
                "{name} is read-only (a metadata table or a past version); write to {schema}.{}",
                spec.table
            ),
        ));
    }
    let ident = TableIdent::new(catalog::namespace(&schema), spec.table.clone());
    let lineage = engine.commit_lineage();
    use crate::settings::CatalogKind;
    let (catalog, commit) = match &engine.settings.catalog {
        CatalogKind::Embedded => {
            if spec.reference.is_some() {
                return Err(CellError::new(
                    ErrorKind::Catalog,
                    format!(
                        "{name}: table names with @branch need the Nessie catalog (set NESSIE_URI)"
                    ),
                ));
            }
            let db_uri = catalog::embedded_db_uri(&engine.settings);
            (engine.catalog.iceberg(), CommitTarget::Embedded { db_uri })
        }
        CatalogKind::Nessie { .. } => {
            let nessie = engine.catalog.nessie().ok_or_else(|| {
                CellError::new(ErrorKind::Catalog, "the Nessie catalog is not open")
            })?;
            let nessie = match &spec.reference {
                Some(r) => nessie.with_reference(r, None),
                None => nessie,
            }
            .with_commit_extra(nessie_extra(&lineage));
            (
                Arc::new(nessie.clone()) as Arc<dyn Catalog>,
                CommitTarget::Nessie(nessie),
            )
        }
        CatalogKind::Rest(_) => {
            if spec.reference.is_some() {
                return Err(CellError::new(
                    ErrorKind::Catalog,
                    format!("{name}: table names with @branch need the Nessie catalog"),
                ));
            }
            (engine.catalog.iceberg(), CommitTarget::Rest)
        }
    };
    Ok(TableTarget {
        name,
        ident,
        catalog,
        commit,
        summary: lineage.summary(),
    })
}

/// The cell's error for a failed table operation: the one place a [`LakehouseError`] gets its
/// name (`ename`). `fail` gives DataFusion errors their statement context; a missing table or
/// schema is shown with the ones that exist.
fn cell_error(engine: &SqlEngine, fail: Fail<'_>, e: LakehouseError) -> CellError {
    use LakehouseError as L;
    match e {
        L::DataFusion(e) => fail(e),
        L::TableNotFound { table } => errors::unknown_table(&table, &engine.catalog.listing()),
        L::SchemaNotFound { schema } => errors::unknown_schema(&schema, &engine.catalog),
        e => CellError::new(kind(&e), e.to_string()),
    }
}

/// The kind of a table operation's error.
fn kind(e: &LakehouseError) -> ErrorKind {
    use LakehouseError as L;
    match e {
        L::DataFusion(_) | L::MergeCardinality { .. } => ErrorKind::Execution,
        L::TableNotFound { .. } => ErrorKind::TableNotFound,
        L::SchemaNotFound { .. } => ErrorKind::SchemaNotFound,
        L::Iceberg { .. }
        | L::TableExists { .. }
        | L::ColumnExists { .. }
        | L::RenameTargetExists { .. }
        | L::PartitionColumn { .. } => ErrorKind::Catalog,
        L::InvalidName(_) => ErrorKind::Name,
        L::Partition(_) => ErrorKind::Partition,
        L::InvalidProperty(_) => ErrorKind::NotSupported,
        L::UnstorableType(_) | L::ConditionNotBoolean { .. } => ErrorKind::Type,
        L::RestCannotCommit { .. } | L::ConditionNotEvaluable { .. } => ErrorKind::NotSupported,
        L::ColumnNotFound { .. } => ErrorKind::ColumnNotFound,
        L::Commit { failure, .. } => match failure.error.kind() {
            IcebergErrorKind::CatalogCommitConflicts => ErrorKind::CommitConflict,
            IcebergErrorKind::FeatureUnsupported => ErrorKind::NotSupported,
            _ => ErrorKind::Catalog,
        },
    }
}

fn plural(n: impl Into<u64>, word: &str) -> String {
    let n = n.into();
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests;
