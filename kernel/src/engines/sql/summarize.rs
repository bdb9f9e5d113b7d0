//! `SUMMARIZE <table>` and `SUMMARIZE <query>`: summary statistics per column, like
//! Spark's `df.summary()` and DuckDB's `SUMMARIZE`.
//!
//! The result has one row per input column (column, type, count, nulls, distinct, mean,
//! stddev, min, 25%, 50%, 75%, max) rather than Spark's one row per statistic: a notebook
//! table of a wide input then grows downwards instead of sideways, and each statistic keeps
//! its own type (count an integer, mean a double) where Spark's layout turns every value
//! into a string. Everything is computed by one aggregate query over the input, so the
//! kernel never holds the input's rows:
//!
//! - `count` counts non-NULL values (as Spark's does), `nulls` the NULLs;
//! - `distinct` is HyperLogLog's estimate (`approx_distinct`; exact for small inputs),
//!   NULL for floating-point and decimal columns, where it would cost a cast per row;
//! - `mean`, `stddev` (sample) and the percentiles are for numeric columns; the percentiles
//!   are t-digest estimates (`approx_percentile_cont`), as Spark's are approximate too;
//! - `min` and `max` are for every orderable column, shown as text.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Float64Builder, Int64Array, Int64Builder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::common::{Column, DFSchema};
use datafusion::dataframe::DataFrame;
use datafusion::functions_aggregate::expr_fn::{
    approx_distinct, approx_percentile_cont, avg, count, max, min, stddev,
};
use datafusion::logical_expr::{cast, Expr, LogicalPlan, SortExpr};
use datafusion::prelude::lit;
use tokio::sync::mpsc::UnboundedSender;

use super::errors;
use super::split::Piece;
use super::{Output, SqlEngine, TableOutput};
use crate::error::{CellError, ErrorKind};

#[cfg(test)]
use lakehouse_grammar::summarize::parse;

/// What is computed for one column.
struct ColumnStats {
    name: String,
    sql_type: String,
    numeric: bool,
    distinct: bool,
    orderable: bool,
}

const STATS_NUMERIC: [(&str, f64); 3] = [("25%", 0.25), ("50%", 0.5), ("75%", 0.75)];

impl SqlEngine {
    /// Runs `SUMMARIZE`: plans `query` as a cell statement would be, aggregates it once and
    /// turns the one-row answer into one row per column.
    pub(super) async fn run_summarize(
        &self,
        cell: &str,
        piece: &Piece,
        query: String,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        let started = Instant::now();
        let inner = Piece {
            text: query,
            ..piece.clone()
        };
        let plan = self.plan_statement(cell, &inner).await?;
        if matches!(
            plan,
            LogicalPlan::Ddl(_)
                | LogicalPlan::Dml(_)
                | LogicalPlan::Copy(_)
                | LogicalPlan::Statement(_)
                | LogicalPlan::Explain(_)
                | LogicalPlan::Analyze(_)
                | LogicalPlan::DescribeTable(_)
        ) {
            return Err(CellError::new(
                ErrorKind::Syntax,
                "SUMMARIZE takes a table or a query (SELECT …), not another statement",
            )
            .with_context(errors::statement_context(piece)));
        }
        let fail = |e| errors::from_datafusion(e, cell, piece, &self.catalog);
        let df = DataFrame::new(self.ctx.state(), plan);
        let (exprs, columns) = summary_exprs(df.schema());
        if columns.is_empty() {
            return Err(CellError::new(
                ErrorKind::Syntax,
                "SUMMARIZE: the input has no columns",
            ));
        }
        let batches = df
            .aggregate(vec![], exprs)
            .map_err(fail)?
            .collect()
            .await
            .map_err(fail)?;
        let Some(row) = batches.iter().find(|b| b.num_rows() == 1) else {
            return Err(CellError::new(
                ErrorKind::Internal,
                "SUMMARIZE: the aggregate returned no row",
            ));
        };
        let table = unpivot(row, &columns).map_err(fail)?;
        let total_rows = table.num_rows();
        let table = table.slice(0, total_rows.min(self.display().max_rows));
        let _ = out.send(Output::Table(TableOutput {
            schema: table.schema(),
            batches: vec![table],
            total_rows,
            elapsed: started.elapsed(),
        }));
        self.tables_sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// The aggregate expressions (named `s<i>_<stat>`, plus `total`) and the per-column plan.
fn summary_exprs(schema: &DFSchema) -> (Vec<Expr>, Vec<ColumnStats>) {
    let mut exprs = vec![count(lit(1)).alias("total")];
    let mut columns = vec![];
    for (i, (qualifier, field)) in schema.iter().enumerate() {
        let c = Expr::Column(Column::new(qualifier.cloned(), field.name()));
        let dt = field.data_type();
        let numeric = dt.is_numeric();
        let nested = dt.is_nested();
        let distinct = !nested && !dt.is_floating() && !is_decimal(dt) && !dt.is_null();
        let orderable = !nested && !dt.is_null();
        exprs.push(count(c.clone()).alias(format!("s{i}_count")));
        if distinct {
            let arg = if dt == &DataType::Boolean {
                cast(c.clone(), DataType::Int8)
            } else {
                c.clone()
            };
            exprs.push(approx_distinct(arg).alias(format!("s{i}_distinct")));
        }
        if numeric {
            let x = cast(c.clone(), DataType::Float64);
            exprs.push(avg(x.clone()).alias(format!("s{i}_mean")));
            exprs.push(stddev(x.clone()).alias(format!("s{i}_stddev")));
            for (name, p) in STATS_NUMERIC {
                exprs.push(
                    approx_percentile_cont(SortExpr::new(x.clone(), true, false), lit(p), None)
                        .alias(format!("s{i}_{name}")),
                );
            }
        }
        if orderable {
            exprs.push(min(c.clone()).alias(format!("s{i}_min")));
            exprs.push(max(c).alias(format!("s{i}_max")));
        }
        columns.push(ColumnStats {
            name: field.name().clone(),
            sql_type: lakehouse_render::sql_type_name(dt),
            numeric,
            distinct,
            orderable,
        });
    }
    (exprs, columns)
}

fn is_decimal(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
    )
}

/// The aggregate's one row → one row per input column.
fn unpivot(row: &RecordBatch, columns: &[ColumnStats]) -> datafusion::error::Result<RecordBatch> {
    let value = |name: &str| -> Option<&ArrayRef> { row.column_by_name(name) };
    let int = |name: &str| -> Option<i64> {
        let a = value(name)?;
        if a.is_null(0) {
            return None;
        }
        let a = datafusion::arrow::compute::cast(a, &DataType::Int64).ok()?;
        a.as_any().downcast_ref::<Int64Array>().map(|a| a.value(0))
    };
    let float = |name: &str| -> Option<f64> {
        let a = value(name)?;
        if a.is_null(0) {
            return None;
        }
        let a = datafusion::arrow::compute::cast(a, &DataType::Float64).ok()?;
        a.as_any()
            .downcast_ref::<Float64Array>()
            .map(|a| a.value(0))
    };
    let text = |name: &str| -> Option<String> {
        let a = value(name)?;
        if a.is_null(0) {
            return None;
        }
        array_value_to_string(a, 0).ok()
    };
    let total = int("total").unwrap_or(0);
    let mut col_name = StringBuilder::new();
    let mut col_type = StringBuilder::new();
    let mut counts = Int64Builder::new();
    let mut nulls = Int64Builder::new();
    let mut distinct = Int64Builder::new();
    let mut mean = Float64Builder::new();
    let mut stddev = Float64Builder::new();
    let mut mins = StringBuilder::new();
    let mut pcts: Vec<Float64Builder> = STATS_NUMERIC
        .iter()
        .map(|_| Float64Builder::new())
        .collect();
    let mut maxs = StringBuilder::new();
    for (i, c) in columns.iter().enumerate() {
        col_name.append_value(&c.name);
        col_type.append_value(&c.sql_type);
        let n = int(&format!("s{i}_count")).unwrap_or(0);
        counts.append_value(n);
        nulls.append_value(total - n);
        distinct.append_option(c.distinct.then(|| int(&format!("s{i}_distinct"))).flatten());
        let num = |stat: &str| c.numeric.then(|| float(&format!("s{i}_{stat}"))).flatten();
        mean.append_option(num("mean"));
        stddev.append_option(num("stddev"));
        for (b, (name, _)) in pcts.iter_mut().zip(STATS_NUMERIC) {
            b.append_option(num(name));
        }
        let ord = |stat: &str| c.orderable.then(|| text(&format!("s{i}_{stat}"))).flatten();
        mins.append_option(ord("min"));
        maxs.append_option(ord("max"));
    }
    let mut fields = vec![
        Field::new("column_name", DataType::Utf8, false),
        Field::new("column_type", DataType::Utf8, false),
        Field::new("count", DataType::Int64, false),
        Field::new("nulls", DataType::Int64, false),
        Field::new("distinct", DataType::Int64, true),
        Field::new("mean", DataType::Float64, true),
        Field::new("stddev", DataType::Float64, true),
        Field::new("min", DataType::Utf8, true),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(col_name.finish()) as ArrayRef,
        Arc::new(col_type.finish()),
        Arc::new(counts.finish()),
        Arc::new(nulls.finish()),
        Arc::new(distinct.finish()),
        Arc::new(mean.finish()),
        Arc::new(stddev.finish()),
        Arc::new(mins.finish()),
    ];
    for ((name, _), mut b) in STATS_NUMERIC.iter().zip(pcts) {
        fields.push(Field::new(*name, DataType::Float64, true));
        arrays.push(Arc::new(b.finish()));
    }
    fields.push(Field::new("max", DataType::Utf8, true));
    arrays.push(Arc::new(maxs.finish()) as ArrayRef);
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{column_names, engine, last_table, rows, run, tempdir};
    use super::parse;

    #[test]
    fn parses_tables_and_queries() {
        assert_eq!(
            parse("summarize demo.events").unwrap().unwrap(),
            "SELECT * FROM demo.events"
        );
        assert_eq!(
            parse("SUMMARIZE  SELECT a FROM t;").unwrap().unwrap(),
            "SELECT a FROM t"
        );
        assert_eq!(
            parse("SUMMARIZE (SELECT 1)").unwrap().unwrap(),
            "(SELECT 1)"
        );
        assert!(parse("SUMMARIZE").unwrap().is_err());
        assert!(parse("SELECT summarize FROM t").is_none());
        assert!(parse("summarized").is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn summarize_table_and_query() {
        let dir = tempdir("summarize");
        let e = engine(&dir).await;
        let (_, r) = run(
            &e,
            "CREATE SCHEMA s;
             CREATE TABLE s.t (id BIGINT, name STRING, amount DOUBLE, ts TIMESTAMP);
             INSERT INTO s.t SELECT value, 'n' || (value % 3), CAST(value AS DOUBLE) * 2,
                 to_timestamp_seconds(1735689600 + value * 86400)
               FROM range(1, 101);
             INSERT INTO s.t VALUES (NULL, NULL, NULL, NULL)",
        )
        .await;
        r.unwrap();
        let (outs, r) = run(&e, "SUMMARIZE s.t").await;
        r.unwrap();
        let t = last_table(&outs);
        let names = column_names(t);
        assert_eq!(
            names,
            [
                "column_name",
                "column_type",
                "count",
                "nulls",
                "distinct",
                "mean",
                "stddev",
                "min",
                "25%",
                "50%",
                "75%",
                "max"
            ]
        );
        let rows = rows(t);
        assert_eq!(rows.len(), 4);
        // id: 1..=100 and one NULL.
        assert_eq!(rows[0][..5], ["id", "bigint", "100", "1", "100"]);
        assert_eq!(rows[0][5], "50.5");
        let sd: f64 = rows[0][6].parse().unwrap();
        assert!((sd - 29.011491975882016).abs() < 1e-9, "{sd}");
        assert_eq!(rows[0][7], "1");
        assert_eq!(rows[0][11], "100");
        let median: f64 = rows[0][9].parse().unwrap();
        assert!((median - 50.5).abs() <= 1.0, "{median}");
        // name: text gets count, distinct, min and max only.
        assert_eq!(rows[1][..5], ["name", "string", "100", "1", "3"]);
        assert_eq!((rows[1][5].as_str(), rows[1][8].as_str()), ("", ""));
        assert_eq!((rows[1][7].as_str(), rows[1][11].as_str()), ("n0", "n2"));
        // amount: a double, so no distinct estimate.
        assert_eq!(rows[2][4], "");
        assert_eq!(rows[2][5], "101.0");
        assert_eq!(rows[3][7], "2025-01-02T00:00:00");
        // A query, with a parameter.
        let (outs, r) = run(
            &e,
            "SET lim = 10; SUMMARIZE SELECT amount FROM s.t WHERE id <= $lim",
        )
        .await;
        r.unwrap();
        let rows = super::super::tests_support::rows(last_table(&outs));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][..4], ["amount", "double", "10", "0"]);
        assert_eq!(rows[0][7], "2.0");
        assert_eq!(rows[0][11], "20.0");
        // Bad input says what to write.
        let (_, r) = run(&e, "SUMMARIZE s.nope").await;
        assert_eq!(r.unwrap_err().ename(), "TableNotFound");
        let (_, r) = run(&e, "SUMMARIZE").await;
        assert!(r.unwrap_err().evalue.contains("SUMMARIZE demo.events"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
