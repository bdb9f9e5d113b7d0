//! `CALL system.remove_orphan_files(table => 'db.t' [, older_than => TIMESTAMP '…']
//! [, dry_run => true])`: Iceberg's Spark procedure, with its names and defaults (files older
//! than three days), on the embedded catalog. On Nessie the files under a table's folder may
//! belong to the table on other branches and tags, which only Nessie's garbage collector sees;
//! a REST catalog's server owns its files. Both are refused with what to use instead.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use datafusion::arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    self as sql, Expr as SqlExpr, FunctionArg, FunctionArgExpr, FunctionArguments,
};
use tokio::sync::mpsc::UnboundedSender;

use super::alter::sql_statement;
use super::{cell_error, target};
use crate::engines::sql::errors;
use crate::engines::sql::split::Piece;
use crate::engines::sql::SqlEngine;
use crate::engines::{Output, TableOutput};
use crate::error::{CellError, ErrorKind};
use crate::lakehouse::{self, CommitTarget};

/// Iceberg's default safety window: files younger than this may belong to a write in flight.
const DEFAULT_AGE: Duration = Duration::days(3);

/// The procedure's arguments.
#[derive(Debug, PartialEq)]
struct Call {
    table: String,
    /// The `older_than` expression as written (evaluated as a timestamp).
    older_than: Option<String>,
    dry_run: bool,
}

fn usage(what: &str) -> CellError {
    CellError::new(
        ErrorKind::Syntax,
        format!("{what}; write CALL system.remove_orphan_files(table => 'schema.table', older_than => TIMESTAMP '2026-01-01 00:00:00', dry_run => true)"),
    )
}

/// Reads the procedure call (`[catalog.]system.remove_orphan_files`, named or positional
/// arguments in Spark's order: table, older_than, location, dry_run).
fn parse_call(statement: sql::Statement) -> Result<Call, CellError> {
    let sql::Statement::Call(f) = statement else {
        return Err(usage("expected a CALL"));
    };
    let name: Vec<String> = f
        .name
        .0
        .iter()
        .map(|p| p.to_string().to_lowercase())
        .collect();
    let procedure = match name.as_slice() {
        [system, p] | [_, system, p] if system == "system" => p.as_str(),
        _ => {
            return Err(usage(&format!(
                "unknown procedure {}: the kernel has system.remove_orphan_files",
                f.name
            )))
        }
    };
    if procedure != "remove_orphan_files" {
        return Err(CellError::new(
            ErrorKind::NotSupported,
            format!("procedure system.{procedure} is not supported: the kernel has system.remove_orphan_files (snapshots are expired by Nessie's GC or by Spark)"),
        ));
    }
    let FunctionArguments::List(list) = f.args else {
        return Err(usage("remove_orphan_files needs arguments"));
    };
    const ORDER: [&str; 4] = ["table", "older_than", "location", "dry_run"];
    let mut call = Call {
        table: String::new(),
        older_than: None,
        dry_run: false,
    };
    for (i, arg) in list.args.into_iter().enumerate() {
        let (name, expr) = match arg {
            FunctionArg::Named { name, arg, .. } => (name.value.to_lowercase(), arg),
            FunctionArg::ExprNamed { name, arg, .. } => (name.to_string().to_lowercase(), arg),
            FunctionArg::Unnamed(arg) => match ORDER.get(i) {
                Some(n) => (n.to_string(), arg),
                None => return Err(usage("too many arguments")),
            },
        };
        let FunctionArgExpr::Expr(expr) = expr else {
            return Err(usage(&format!("argument {name} needs a value")));
        };
        match name.as_str() {
            "table" => call.table = string_value(&expr).ok_or_else(|| usage("table => takes the table's name as a string"))?,
            "older_than" => call.older_than = Some(expr.to_string()),
            "dry_run" => {
                call.dry_run = match &expr {
                    SqlExpr::Value(v) => match &v.value {
                        sql::Value::Boolean(b) => *b,
                        _ => return Err(usage("dry_run => takes true or false")),
                    },
                    _ => return Err(usage("dry_run => takes true or false")),
                }
            }
            "location" | "equal_schemes" | "equal_authorities" | "prefix_mismatch_mode"
            | "max_concurrent_deletes" | "file_list_view" | "stream_results" => {
                return Err(CellError::new(
                    ErrorKind::NotSupported,
                    format!("remove_orphan_files' {name} argument is not supported: the kernel always looks under the table's own location"),
                ))
            }
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    if call.table.is_empty() {
        return Err(usage("remove_orphan_files needs table => 'schema.table'"));
    }
    Ok(call)
}

fn string_value(e: &SqlExpr) -> Option<String> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            sql::Value::SingleQuotedString(s) | sql::Value::DoubleQuotedString(s) => {
                Some(s.clone())
            }
            _ => None,
        },
        SqlExpr::Identifier(i) => Some(i.value.clone()),
        SqlExpr::CompoundIdentifier(parts) => Some(
            parts
                .iter()
                .map(|p| p.value.as_str())
                .collect::<Vec<_>>()
                .join("."),
        ),
        _ => None,
    }
}

/// Runs the procedure: lists the orphans and, unless `dry_run`, deletes them.
pub(super) async fn remove_orphan_files(
    engine: &SqlEngine,
    cell: &str,
    piece: &Piece,
    out: &UnboundedSender<Output>,
) -> Result<(), CellError> {
    let started = Instant::now();
    let fail = |e| errors::from_datafusion(e, cell, piece, &engine.catalog);
    let call = parse_call(sql_statement(engine, cell, piece)?)?;
    let reference = datafusion::common::TableReference::from(call.table.as_str());
    let target = target(engine, &reference)?;
    match &target.commit {
        CommitTarget::Embedded { .. } => {}
        CommitTarget::Nessie(_) => {
            return Err(CellError::new(
                ErrorKind::NotSupported,
                format!("remove_orphan_files does not run on Nessie: files under {}'s folder may belong to the table on other branches and tags. Nessie's garbage collector (nessie-gc) removes files that no reference uses", target.name),
            ))
        }
        CommitTarget::Rest => {
            return Err(CellError::new(
                ErrorKind::NotSupported,
                format!("remove_orphan_files does not run on the REST catalog: its server owns {}'s files; use its own maintenance", target.name),
            ))
        }
    }
    let older_than = match &call.older_than {
        None => Utc::now() - DEFAULT_AGE,
        Some(expr) => timestamp(engine, expr).await.map_err(|e| match e {
            Some(e) => fail(e),
            None => usage(&format!("older_than => {expr} is not a timestamp")),
        })?,
    };
    let table = target
        .catalog
        .load_table(&target.ident)
        .await
        .map_err(|e| {
            let e = match e.kind() {
                iceberg::ErrorKind::TableNotFound => lakehouse::LakehouseError::TableNotFound {
                    table: target.name.clone(),
                },
                _ => lakehouse::LakehouseError::iceberg(
                    format!("cannot load table {}", target.name),
                    e,
                ),
            };
            cell_error(engine, &fail, e)
        })?;
    let stored = lakehouse::list_files(table.metadata().location(), &engine.settings.s3)
        .await
        .map_err(|m| CellError::new(ErrorKind::Io, m))?;
    let found = lakehouse::orphans(&table, stored, older_than)
        .await
        .map_err(|e| cell_error(engine, &fail, e))?;
    if !call.dry_run && !found.is_empty() {
        lakehouse::remove_orphans(&table, &found)
            .await
            .map_err(|e| cell_error(engine, &fail, e))?;
    }
    let bytes: u64 = found.iter().map(|f| f.size).sum();
    let _ = out.send(Output::Message(format!(
        "{} {} orphan file{} ({}) of {} last written before {}{}",
        if call.dry_run { "Found" } else { "Removed" },
        found.len(),
        if found.len() == 1 { "" } else { "s" },
        human_bytes(bytes),
        target.name,
        older_than.format("%Y-%m-%d %H:%M:%S UTC"),
        if call.dry_run {
            " (dry run: nothing was deleted)"
        } else {
            ""
        },
    )));
    send_files(out, started, &found);
    Ok(())
}

/// Evaluates `expr` as a timestamp in the session (its time zone and functions).
async fn timestamp(
    engine: &SqlEngine,
    expr: &str,
) -> Result<DateTime<Utc>, Option<datafusion::error::DataFusionError>> {
    let batches = engine
        .ctx
        .sql(&format!("SELECT CAST({expr} AS TIMESTAMP) AS t"))
        .await
        .map_err(Some)?
        .collect()
        .await
        .map_err(Some)?;
    let batch = batches.first().filter(|b| b.num_rows() == 1).ok_or(None)?;
    match ScalarValue::try_from_array(batch.column(0), 0).map_err(Some)? {
        ScalarValue::TimestampNanosecond(Some(ns), _) => Ok(DateTime::from_timestamp_nanos(ns)),
        _ => Err(None),
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

/// The files as a table: Spark's `orphan_file_location`, then size and time.
fn send_files(out: &UnboundedSender<Output>, started: Instant, files: &[lakehouse::StoredFile]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("orphan_file_location", DataType::Utf8, false),
        Field::new("size_bytes", DataType::UInt64, false),
        Field::new(
            "last_modified",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            files.iter().map(|f| f.location.as_str()),
        )),
        Arc::new(UInt64Array::from_iter_values(files.iter().map(|f| f.size))),
        Arc::new(
            TimestampMicrosecondArray::from(
                files
                    .iter()
                    .map(|f| f.modified.map(|m| m.timestamp_micros()))
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        ),
    ];
    if let Ok(batch) = RecordBatch::try_new(schema.clone(), columns) {
        let _ = out.send(Output::Table(TableOutput {
            schema,
            batches: vec![batch],
            total_rows: files.len(),
            elapsed: started.elapsed(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::{DFParser, Statement as DFStatement};

    fn parsed(text: &str) -> Result<Call, CellError> {
        let mut s = DFParser::parse_sql(text).expect("parses");
        let DFStatement::Statement(s) = s.pop_front().unwrap() else {
            panic!("not a SQL statement")
        };
        parse_call(*s)
    }

    #[test]
    fn spark_spellings_of_the_call() {
        let c = parsed("CALL system.remove_orphan_files(table => 'db.t')").unwrap();
        assert_eq!(
            c,
            Call {
                table: "db.t".into(),
                older_than: None,
                dry_run: false
            }
        );
        let c = parsed("CALL lakehouse.system.remove_orphan_files(table => 'db.t', older_than => TIMESTAMP '2026-01-01 00:00:00', dry_run => true)").unwrap();
        assert_eq!(
            c.older_than.as_deref(),
            Some("TIMESTAMP '2026-01-01 00:00:00'")
        );
        assert!(c.dry_run);
        let c =
            parsed("CALL system.remove_orphan_files('db.t', now() - INTERVAL '1 hour')").unwrap();
        assert_eq!(c.table, "db.t");
        assert!(c.older_than.is_some());
    }

    #[test]
    fn other_procedures_and_arguments_say_what_exists() {
        let e = parsed("CALL system.expire_snapshots(table => 'db.t')").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotSupported);
        assert!(e.evalue.contains("remove_orphan_files"), "{}", e.evalue);
        let e = parsed("CALL system.remove_orphan_files(table => 'db.t', location => 's3://x')")
            .unwrap_err();
        assert!(e.evalue.contains("location"), "{}", e.evalue);
        let e = parsed("CALL system.remove_orphan_files(dry_run => true)").unwrap_err();
        assert!(e.evalue.contains("table =>"), "{}", e.evalue);
        let e = parsed("CALL remove_orphan_files(table => 'db.t')").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax);
    }
}
