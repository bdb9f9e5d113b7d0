//! DataFusion's own statements: planned with the session's parameters and catalog, run,
//! and their rows kept up to the display limit (the rest counted); DML and COPY report
//! what they wrote.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{Array, UInt64Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::stats::Precision;
use datafusion::logical_expr::{DdlStatement, DmlStatement, LogicalPlan, WriteOp};
use datafusion::sql::parser::Statement;
use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use super::super::errors;
use super::super::split::Piece;
use super::super::{depth, metanames, params, progress, write, Output, SqlEngine, TableOutput};
use crate::catalog::CATALOG_NAME;
use crate::error::{CellError, ErrorKind};

impl SqlEngine {
    /// A statement DataFusion parsed: planned and run, with the kernel's own handling of
    /// schemas, table DDL and the writes iceberg-datafusion cannot do.
    pub(in super::super) async fn run_sql(
        &self,
        cell: &str,
        piece: &Piece,
        statement: Statement,
        started: Instant,
        out: &UnboundedSender<Output>,
        keep: usize,
    ) -> Result<(), CellError> {
        // CREATE SCHEMA's name as written (DataFusion's plan joins quoted parts with '.').
        let schema_parts = self.schema_name_parts(&statement);
        // Spark keeps the case of aliases and column names as written (DataFusion folds them).
        let output_names = match &statement {
            Statement::Statement(s)
                if self.dialect.current() == crate::settings::Dialect::Spark =>
            {
                super::super::dialect::names::output_names(s)
            }
            _ => None,
        };
        let plan = self.plan_parsed(cell, piece, statement).await?;
        if let Some(sandbox) = &self.sandbox {
            sandbox.check(&plan)?;
        }
        let fail = |e| errors::from_datafusion(e, cell, piece, &self.catalog);
        match plan {
            LogicalPlan::Ddl(DdlStatement::CreateCatalogSchema(c)) => {
                let name = self.schema_to_create(schema_parts, &c.schema_name)?;
                self.create_schema(&name, c.if_not_exists, out).await
            }
            LogicalPlan::Ddl(DdlStatement::DropCatalogSchema(d)) => {
                if let datafusion::common::SchemaReference::Full { catalog, .. } = &d.name {
                    self.check_catalog(catalog)?;
                }
                self.drop_schema(d.name.schema_name(), d.if_exists, d.cascade, out)
                    .await
            }
            // CREATE [OR REPLACE] TABLE is the write family's (parser::Statement::Write);
            // other spellings DataFusion plans the same way are created the same way.
            LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(c)) if !c.temporary => {
                write::create_planned(self, &c, &Default::default(), out, &fail).await
            }
            LogicalPlan::Ddl(DdlStatement::DropTable(d)) if !self.is_session_object(&d.name) => {
                let (schema, table) = self.resolve(&d.name)?;
                self.drop_table(&schema, &table, d.if_exists, out).await
            }
            LogicalPlan::Ddl(DdlStatement::CreateCatalog(c)) => Err(CellError::new(
                ErrorKind::Catalog,
                format!(
                    "cannot create catalog '{}': this kernel has one catalog, '{CATALOG_NAME}'; use CREATE SCHEMA",
                    c.catalog_name
                ),
            )),
            // INSERT OVERWRITE and DELETE: the kernel's own write path.
            LogicalPlan::Dml(dml) if write::is_ours(self, &dml) => {
                write::run_dml(self, dml, started, out, &fail).await
            }
            LogicalPlan::Dml(dml) => {
                write::check_insert_types(&dml)?;
                self.run_dml(dml, started, out, fail).await
            }
            LogicalPlan::Copy(copy) => {
                let target = copy.output_url.clone();
                let df = self
                    .ctx
                    .execute_logical_plan(LogicalPlan::Copy(copy))
                    .await
                    .map_err(&fail)?;
                let n = count_rows(&df.collect().await.map_err(&fail)?);
                let _ = out.send(Output::Message(format!(
                    "Wrote {n} row{} to {target} ({} ms)",
                    if n == 1 { "" } else { "s" },
                    started.elapsed().as_millis()
                )));
                Ok(())
            }
            plan => {
                let is_ddl = matches!(plan, LogicalPlan::Ddl(_));
                let plan = match &output_names {
                    Some(names) if !is_ddl => {
                        super::super::dialect::names::rename(plan, names).map_err(fail)?
                    }
                    _ => plan,
                };
                let df = self.ctx.execute_logical_plan(plan).await.map_err(fail)?;
                if is_ddl {
                    let _ = df.collect().await.map_err(fail)?;
                    let _ = out.send(Output::Message("Done.".into()));
                    return Ok(());
                }
                let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
                let task_ctx = Arc::new(df.task_ctx());
                let physical = df.clone().create_physical_plan().await.map_err(&fail)?;
                // When the plan knows its row count exactly (a table's rows, unfiltered, as the
                // manifests count them), only the rows shown are read: the limit reaches the
                // scan, and the footer's total comes from the count.
                let exact = match physical.partition_statistics(None).map(|s| s.num_rows) {
                    Ok(Precision::Exact(n)) if n > keep => Some(n),
                    _ => None,
                };
                let physical = match exact {
                    Some(_) => df
                        .limit(0, Some(keep))
                        .map_err(&fail)?
                        .create_physical_plan()
                        .await
                        .map_err(&fail)?,
                    None => physical,
                };
                let stream = datafusion::physical_plan::execute_stream(physical.clone(), task_ctx)
                    .map_err(&fail)?;
                let mut table = self
                    .collect_limited(schema, stream, &physical, started, keep, out)
                    .await
                    .map_err(&fail)?;
                if let Some(n) = exact {
                    table.total_rows = n;
                }
                let _ = out.send(Output::Table(table));
                self.tables_sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Binds `$name` placeholders to the session's parameters as typed literals.
    pub(in super::super) fn bind_parameters(
        &self,
        plan: LogicalPlan,
        cell: &str,
        piece: &Piece,
    ) -> Result<LogicalPlan, CellError> {
        let fail = |e| errors::from_datafusion(e, cell, piece, &self.catalog);
        let names = plan.get_parameter_names().map_err(fail)?;
        if names.is_empty() {
            return Ok(plan);
        }
        let mut values = HashMap::new();
        for id in names {
            let key = id.trim_start_matches('$');
            match self.params.get(&key.to_ascii_lowercase()) {
                Some(v) => {
                    values.insert(key.to_string(), v);
                }
                None if key.chars().all(|c| c.is_ascii_digit()) => {
                    return Err(CellError::new(
                        ErrorKind::Parameter,
                        format!("positional parameter {id} has no value here; name it: SET x = …, then use $x"),
                    ))
                }
                None => {
                    return Err(CellError::new(
                        ErrorKind::Parameter,
                        format!(
                            "parameter {id} is not set ({}); set it with SET {key} = …",
                            self.params.names()
                        ),
                    )
                    .with_context(errors::statement_context(piece)))
                }
            }
        }
        plan.with_param_values(values).map_err(fail)
    }

    /// Plans one statement of a cell (also the query inside SUMMARIZE): parameters inlined
    /// and bound, metadata-table names (`demo.t.snapshots` → `demo."t$snapshots"`), and a
    /// fresh catalog listing when the statement names tables or lists them.
    pub(in super::super) async fn plan_statement(
        &self,
        cell: &str,
        piece: &Piece,
    ) -> Result<LogicalPlan, CellError> {
        let statement = self.parse(cell, piece)?;
        self.plan_parsed(cell, piece, statement).await
    }

    /// Plans a statement DataFusion's parser gave for `piece` (see [`Self::plan_statement`]).
    pub(in super::super) async fn plan_parsed(
        &self,
        cell: &str,
        piece: &Piece,
        mut statement: Statement,
    ) -> Result<LogicalPlan, CellError> {
        let fail = |e| errors::from_datafusion(e, cell, piece, &self.catalog);
        if piece.text.contains('$') {
            params::inline_parameters(&mut statement, &self.params);
        }
        metanames::rewrite(&mut statement, &self.catalog).await;
        self.catalog.next_statement();
        let state = self.ctx.state();
        let refs = state.resolve_table_references(&statement).map_err(fail)?;
        if !refs.is_empty() || needs_listing(&statement) {
            self.catalog
                .refresh()
                .await
                .map_err(|e| errors::catalog("cannot list the catalog", e))?;
        }
        let plan = state.statement_to_plan(statement).await.map_err(fail)?;
        self.bind_parameters(plan, cell, piece)
    }

    /// Evaluates a one-value query (`SELECT <expr>`) with the session's parameters bound.
    pub(in super::super) async fn eval_scalar(
        &self,
        expr: &str,
        what: &str,
        cell: &str,
        piece: &Piece,
    ) -> Result<datafusion::scalar::ScalarValue, CellError> {
        let fail = |e| errors::from_datafusion(e, cell, piece, &self.catalog);
        let sql = format!("SELECT {expr}");
        let state = self.ctx.state();
        let statement = state
            .sql_to_statement(&sql, &datafusion::config::Dialect::Generic)
            .map_err(fail)?;
        if let Err(e) = depth::check(&statement) {
            depth::release(statement);
            return Err(e);
        }
        let refs = state.resolve_table_references(&statement).map_err(fail)?;
        if !refs.is_empty() {
            self.catalog
                .refresh()
                .await
                .map_err(|e| errors::catalog("cannot list the catalog", e))?;
        }
        let plan = state.statement_to_plan(statement).await.map_err(fail)?;
        let plan = self.bind_parameters(plan, cell, piece)?;
        let batches = self
            .ctx
            .execute_logical_plan(plan)
            .await
            .map_err(fail)?
            .collect()
            .await
            .map_err(fail)?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        match (rows, batches.iter().find(|b| b.num_rows() > 0)) {
            (1, Some(b)) if b.num_columns() == 1 => {
                datafusion::scalar::ScalarValue::try_from_array(b.column(0), 0).map_err(fail)
            }
            _ => Err(CellError::new(
                ErrorKind::Parameter,
                format!("{what} needs one value; '{expr}' gives {rows} rows"),
            )),
        }
    }

    /// Keeps the first `max_rows` rows and counts the rest, so a huge result costs memory
    /// for the rows shown only.
    ///
    /// A statement that runs longer than [`progress::FIRST_AFTER`] reports its progress
    /// (rows read and produced so far, from the plan's metrics) every [`progress::EVERY`].
    pub(in super::super) async fn collect_limited(
        &self,
        schema: SchemaRef,
        mut stream: datafusion::physical_plan::SendableRecordBatchStream,
        plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        started: Instant,
        max_rows: usize,
        out: &UnboundedSender<Output>,
    ) -> datafusion::error::Result<TableOutput> {
        static PROGRESS_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = PROGRESS_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut batches = Vec::new();
        let mut kept = 0usize;
        let mut total = 0usize;
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::from_std(started + progress::FIRST_AFTER),
            progress::EVERY,
        );
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut shown = false;
        loop {
            let batch = tokio::select! {
                b = stream.next() => match b {
                    Some(b) => b?,
                    None => break,
                },
                _ = ticker.tick() => {
                    let text = progress::line(started.elapsed(), progress::counts(plan), false);
                    let _ = out.send(Output::Progress { id, text, done: false });
                    shown = true;
                    continue;
                }
            };
            total += batch.num_rows();
            if kept < max_rows {
                let take = (max_rows - kept).min(batch.num_rows());
                batches.push(batch.slice(0, take));
                kept += take;
            }
        }
        if shown {
            let text = progress::line(started.elapsed(), progress::counts(plan), true);
            let _ = out.send(Output::Progress {
                id,
                text,
                done: true,
            });
        }
        Ok(TableOutput {
            schema,
            batches,
            total_rows: total,
            elapsed: started.elapsed(),
        })
    }

    pub(in super::super) async fn run_dml(
        &self,
        dml: DmlStatement,
        started: Instant,
        out: &UnboundedSender<Output>,
        fail: impl Fn(datafusion::error::DataFusionError) -> CellError,
    ) -> Result<(), CellError> {
        let target = dml.table_name.to_string();
        let (verb, prep) = match &dml.op {
            WriteOp::Insert(_) | WriteOp::Ctas => ("Inserted", "into"),
            WriteOp::Delete | WriteOp::Truncate => ("Deleted", "from"),
            WriteOp::Update => ("Updated", "in"),
        };
        let df = self
            .ctx
            .execute_logical_plan(LogicalPlan::Dml(dml))
            .await
            .map_err(&fail)?;
        let batches = df.collect().await.map_err(&fail)?;
        let n = count_rows(&batches);
        let _ = out.send(Output::Message(format!(
            "{verb} {n} row{} {prep} {} ({} ms)",
            if n == 1 { "" } else { "s" },
            display_name(&target),
            started.elapsed().as_millis()
        )));
        Ok(())
    }
}

fn needs_listing(stmt: &Statement) -> bool {
    use datafusion::sql::sqlparser::ast::Statement as S;
    match stmt {
        Statement::Statement(s) => matches!(
            s.as_ref(),
            S::ShowTables { .. }
                | S::ShowColumns { .. }
                | S::ShowSchemas { .. }
                | S::ShowDatabases { .. }
                | S::ExplainTable { .. }
                | S::ShowCreate { .. }
        ),
        _ => false,
    }
}

fn count_rows(batches: &[RecordBatch]) -> u64 {
    // DML plans return one row with one UInt64 "count" column.
    batches
        .iter()
        .filter_map(|b| {
            b.columns()
                .first()
                .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
                .map(|a| (0..a.len()).map(|i| a.value(i)).sum::<u64>())
        })
        .sum()
}

/// A table name as messages show it: without the catalog.
pub(in super::super) fn display_name(table_ref: &str) -> String {
    table_ref
        .strip_prefix(&format!("{CATALOG_NAME}."))
        .unwrap_or(table_ref)
        .to_string()
}
