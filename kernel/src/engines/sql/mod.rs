//! The SQL engine: runs the statements of a cell on DataFusion against the Iceberg catalog.
//!
//! It returns outputs (messages and result batches) through a channel as each statement
//! finishes, and never publishes anything itself: the server turns outputs into messages.

mod assist;
pub mod depth;
mod describe;
mod distinct_count;
mod distinct_rule;
mod errors;
mod guard;
mod magic;
mod metanames;
pub mod params;
mod progress;
pub mod refs;
#[cfg(test)]
mod scan_tests;
mod session;
mod show_lineage;
mod spark;
pub mod split;
mod summarize;
#[cfg(test)]
mod tests_support;
mod travel;
mod write;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{Array, UInt64Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::TableReference;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{DdlStatement, DmlStatement, LogicalPlan, WriteOp};
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::{DFParserBuilder, Statement};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use futures::StreamExt;
use iceberg::TableIdent;
use tokio::sync::mpsc::UnboundedSender;

pub use assist::{Completion, Inspection, IsComplete};
pub use errors::CellError;

use crate::catalog::{self, LakehouseCatalog, CATALOG_NAME};
use crate::config::Settings;
use split::Piece;

pub use super::{Output, TableOutput};

/// Display settings a session can change.
#[derive(Debug, Clone, Copy)]
pub struct Display {
    pub max_rows: usize,
    pub max_col_width: usize,
}

/// One SQL session: a DataFusion context bound to the lakehouse catalog.
pub struct SqlEngine {
    ctx: SessionContext,
    catalog: LakehouseCatalog,
    settings: Settings,
    display: std::sync::Mutex<Display>,
    /// The Nessie catalog on the configured reference, when the catalog is Nessie.
    nessie: Option<catalog::NessieCatalog>,
    /// The reference `USE REFERENCE` switched to: (name, pinned hash).
    active_ref: std::sync::Mutex<Option<(String, Option<String>)>>,
    /// `SET name = value` parameters (`$name`, `${name}`).
    params: params::Params,
    /// Catalog facts for completion and inspection, dropped after DDL and ref changes.
    assist: assist::AssistCache,
    /// Result tables sent so far (a chart needs one).
    tables_sent: std::sync::atomic::AtomicUsize,
    /// Errors of the start-up files, until the first cell shows them.
    startup_report: std::sync::Mutex<Option<String>>,
    /// Who runs which notebook and cell: what every commit records (crate::lineage).
    lineage: std::sync::Mutex<crate::lineage::Tracker>,
}

/// Rows per batch (`datafusion.execution.batch_size`) without a tight memory limit. Iceberg
/// scans read in batches of this size and grouped aggregates take them whole: on the notebook's
/// feature query (10M events, 100k customers) 65536 is about 30% faster than DataFusion's 8192
/// (tests/bench/feature_bench.py). `SET datafusion.execution.batch_size = …` still changes it.
const BATCH_ROWS: usize = 65536;

/// The smallest query memory pool that gets [`BATCH_ROWS`]: a sort that spills merges one
/// batch per spill file, which in a pool of tens of MiB only fits at DataFusion's 8192 rows.
const BIG_BATCH_POOL: u64 = 1 << 30;

/// Rows per batch for a query memory pool of `pool` bytes (`None`: no limit).
fn batch_rows(pool: Option<u64>) -> usize {
    match pool {
        Some(p) if p < BIG_BATCH_POOL => 8192,
        _ => BATCH_ROWS,
    }
}

impl SqlEngine {
    /// Opens the configured catalog and builds the session, without running the start-up
    /// files (`crate::session::open` does both).
    pub async fn new(settings: Settings) -> Result<Self, String> {
        let opened = catalog::open(&settings).await?;
        let catalog = LakehouseCatalog::new(opened.catalog, opened.nessie.clone());
        // A catalog that cannot be listed now (Nessie down) is not fatal: every statement
        // that names tables lists it again, and says what failed.
        if let Err(e) = catalog.refresh().await {
            log::warn!("cannot list the catalog at start-up: {e}");
        }
        let config = SessionConfig::new()
            .with_batch_size(batch_rows(settings.limits.pool_size()))
            .with_information_schema(true)
            .with_default_catalog_and_schema(CATALOG_NAME, &settings.default_schema)
            .with_create_default_catalog_and_schema(false);
        // Memory pool, spilling and target partitions from the limits (crate::limits).
        let (config, runtime) = settings.limits.session(config)?;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        // Spark SQL functions DataFusion lacks (DATEDIFF, DATE(), date_add, …).
        spark::register(&ctx).map_err(|e| format!("cannot register Spark functions: {e}"))?;
        // COUNT(DISTINCT) beside other aggregates: integer-like values in one vectorized
        // aggregate, the other types grouped twice (distinct_count, distinct_rule).
        for rule in distinct_rule::rules() {
            ctx.add_optimizer_rule(rule);
        }
        ctx.register_catalog(CATALOG_NAME, Arc::new(catalog.clone()));
        let display = Display {
            max_rows: settings.max_rows,
            max_col_width: settings.max_col_width,
        };
        let engine = SqlEngine {
            ctx,
            catalog,
            settings,
            display: std::sync::Mutex::new(display),
            nessie: opened.nessie,
            active_ref: std::sync::Mutex::new(None),
            params: params::Params::default(),
            assist: assist::AssistCache::new(),
            tables_sent: Default::default(),
            startup_report: Default::default(),
            lineage: std::sync::Mutex::new(crate::lineage::Tracker::detect()),
        };
        Ok(engine)
    }

    /// Keeps what failed in the start-up files for the first cell (`crate::session::open`
    /// runs them once the session is built).
    pub(crate) fn set_startup_report(&self, report: Option<String>) {
        *self.startup_report.lock().expect("startup lock") = report;
    }

    /// What went wrong in the start-up files, once (the first cell shows it).
    pub fn take_startup_report(&self) -> Option<String> {
        self.startup_report.lock().expect("startup lock").take()
    }

    /// The active Nessie reference (`name` or `name@hash`), or `None` for the embedded catalog.
    pub fn active_reference(&self) -> Option<String> {
        let nessie = self.nessie.as_ref()?;
        Some(match self.active_ref.lock().expect("ref lock").clone() {
            Some((name, Some(hash))) => format!("{name}@{hash}"),
            Some((name, None)) => name,
            None => nessie.reference().to_string(),
        })
    }

    /// A cell begins: the commits it makes record `origin` (cell id, execution count) and,
    /// for papermill's injected cell, which parameters the run was given.
    pub fn begin_cell(&self, origin: crate::lineage::CellOrigin, code: &str) {
        self.lineage
            .lock()
            .expect("lineage lock")
            .begin_cell(origin, code);
    }

    /// Sets the notebook the session runs (tests; the session detects it otherwise).
    pub fn set_notebook(&self, notebook: Option<crate::lineage::Notebook>) {
        self.lineage.lock().expect("lineage lock").notebook = notebook;
    }

    /// What a commit made now records: user, notebook, git state, cell, statement and the
    /// papermill parameters with their current values.
    pub(crate) fn commit_lineage(&self) -> crate::lineage::CommitLineage {
        let params = self.params.all();
        self.lineage
            .lock()
            .expect("lineage lock")
            .commit_lineage(|name| params.get(name).map(params::plain))
    }

    /// The catalog to change things through: the session's, whose Nessie commits carry
    /// `lineage` (the embedded and REST catalogs have no commit metadata besides snapshots).
    pub(crate) fn write_catalog(
        &self,
        lineage: &crate::lineage::CommitLineage,
    ) -> Arc<dyn iceberg::Catalog> {
        match self.catalog.nessie() {
            Some(n) => Arc::new(n.with_commit_extra(write::nessie_extra(lineage))),
            None => self.catalog.iceberg(),
        }
    }

    /// The settings the session was started with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Current display settings.
    pub fn display(&self) -> Display {
        *self.display.lock().expect("display lock")
    }

    /// Runs every statement of `cell` in order, sending outputs as they are ready.
    /// Stops at the first failing statement; earlier statements stay done.
    pub async fn execute(
        &self,
        cell: &str,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        self.execute_keeping(cell, out, None).await
    }

    /// [`execute`](Self::execute), keeping `keep` rows of each result instead of the display
    /// limit (`usize::MAX`: every row, for the Rust cells' bridge).
    async fn execute_keeping(
        &self,
        cell: &str,
        out: &UnboundedSender<Output>,
        keep_override: Option<usize>,
    ) -> Result<(), CellError> {
        let (options, rest) = magic::parse(cell)?;
        let cell = rest.as_deref().unwrap_or(cell);
        let parts = split::split(cell);
        if let Some(open) = parts.open {
            return Err(errors::unterminated(cell, open));
        }
        // A chart shows more rows than a table: keep enough of each result for it.
        let keep = match &options.chart {
            Some(spec) => {
                let _ = out.send(Output::Chart(spec.clone()));
                self.display()
                    .max_rows
                    .max(lakehouse_render::MAX_CHART_ROWS)
            }
            None => self.display().max_rows,
        };
        let keep = keep_override.unwrap_or(keep);
        let before = self.tables_sent.load(std::sync::atomic::Ordering::Relaxed);
        for piece in &parts.pieces {
            if let Err(e) = self.execute_piece(cell, piece, out, keep).await {
                return Err(self.explain_limits(e).await);
            }
        }
        let produced_table = self.tables_sent.load(std::sync::atomic::Ordering::Relaxed) != before;
        if options.chart.is_some() && !produced_table {
            return Err(CellError::new(
                "ChartError",
                "nothing to chart: no statement of the cell returned rows; end the cell with a SELECT",
            ));
        }
        Ok(())
    }

    /// A query that did not fit says which limit and what it asked for (crate::limits),
    /// once its aborted tasks have given their memory back (so the next cell has it all).
    async fn explain_limits(&self, mut e: CellError) -> CellError {
        if e.ename == "ResourcesExhausted" {
            crate::limits::settle(&self.ctx.runtime_env()).await;
            let raw = std::mem::take(&mut e.evalue);
            e.evalue = self.settings.limits.explain_exhausted(&raw);
            e.traceback[0] = format!("{}: {}", e.ename, e.evalue);
            e.traceback
                .extend(raw.lines().map(|l| format!("  DataFusion: {}", l.trim())));
        }
        e
    }

    /// Runs one statement, keeping at most `keep` rows of its result.
    async fn execute_piece(
        &self,
        cell: &str,
        piece: &Piece,
        out: &UnboundedSender<Output>,
        keep: usize,
    ) -> Result<(), CellError> {
        let started = Instant::now();
        self.lineage
            .lock()
            .expect("lineage lock")
            .begin_statement(&piece.text);
        if is_show_settings(&piece.text) {
            let rows = self
                .settings
                .rows()
                .into_iter()
                .map(|r| vec![r.env.to_string(), r.value])
                .collect();
            refs::send_table(out, started, &["setting", "value"], rows);
            return Ok(());
        }
        if crate::limits::is_show_limits(&piece.text) {
            let rows = self.settings.limits.show_rows(&self.ctx.runtime_env());
            refs::send_table(out, started, &["limit", "value", "source"], rows);
            return Ok(());
        }
        if let Some(set) = display_setting(&piece.text) {
            let (key, value) = set.map_err(|m| CellError::new("SettingError", m))?;
            let mut d = self.display.lock().expect("display lock");
            match key {
                "max_rows" => d.max_rows = value,
                _ => d.max_col_width = value,
            }
            let _ = out.send(Output::Message(format!(
                "lakehouse.{key} = {value} for this session"
            )));
            return Ok(());
        }
        if params::is_show_parameters(&piece.text) {
            let rows = self
                .params
                .all()
                .into_iter()
                .map(|(name, v)| vec![name, v.data_type().to_string(), params::show(&v)])
                .collect();
            refs::send_table(out, started, &["parameter", "type", "value"], rows);
            return Ok(());
        }
        if let Some(set) = params::parse_set(&piece.text) {
            let (name, expr) = set.map_err(|m| {
                CellError::new("SyntaxError", m).with_context(errors::statement_context(piece))
            })?;
            return self.set_parameter(&name, &expr, cell, piece, out).await;
        }
        let substituted;
        let piece = match params::substitute(&piece.text, &self.params).map_err(|m| {
            CellError::new("ParameterError", m).with_context(errors::statement_context(piece))
        })? {
            std::borrow::Cow::Borrowed(_) => piece,
            std::borrow::Cow::Owned(text) => {
                substituted = Piece {
                    text,
                    ..piece.clone()
                };
                &substituted
            }
        };
        if let Some(guarded) = guard::parse(&piece.text) {
            let (condition, statement) = guarded.map_err(|m| {
                CellError::new("SyntaxError", m).with_context(errors::statement_context(piece))
            })?;
            return self
                .run_guarded(cell, piece, &condition, &statement, out, keep)
                .await;
        }
        if let Some((condition, message)) = params::parse_assert(&piece.text) {
            return self
                .run_assert(&condition, message.as_deref(), cell, piece, out)
                .await;
        }
        if let Some(stmt) = show_lineage::parse(&piece.text) {
            let stmt = stmt.map_err(|m| CellError::new("SyntaxError", m))?;
            return self.run_show_lineage(stmt, out).await;
        }
        if let Some(stmt) = refs::parse(&piece.text) {
            let stmt = stmt.map_err(|m| CellError::new("SyntaxError", m))?;
            use refs::RefStatement as R;
            let changes_refs = !matches!(stmt, R::List | R::Show | R::Log { .. });
            let result = self.run_ref_statement(stmt, out).await;
            if changes_refs {
                self.assist.invalidate();
            }
            return result;
        }
        let folded;
        let piece = match travel::rewrite(&piece.text).map_err(|m| {
            CellError::new("SyntaxError", m).with_context(errors::statement_context(piece))
        })? {
            std::borrow::Cow::Borrowed(_) => piece,
            std::borrow::Cow::Owned(text) => {
                folded = Piece {
                    text,
                    ..piece.clone()
                };
                &folded
            }
        };
        // CREATE TABLE (Spark clauses, OR REPLACE), ALTER TABLE, DROP TABLE … PURGE.
        if let Some(done) = write::run_early(self, cell, piece, out).await {
            return done;
        }
        if let Some(d) = describe::parse(&piece.text) {
            let d = d.map_err(|m| {
                CellError::new("SyntaxError", m).with_context(errors::statement_context(piece))
            })?;
            return self.run_describe(d, out).await;
        }
        if let Some(query) = summarize::parse(&piece.text) {
            let query = query.map_err(|m| {
                CellError::new("SyntaxError", m).with_context(errors::statement_context(piece))
            })?;
            return self.run_summarize(cell, piece, query, out).await;
        }
        let plan = self.plan_statement(cell, piece).await?;
        let fail = |e| errors::from_datafusion(e, cell, piece, &self.catalog);
        match plan {
            LogicalPlan::Ddl(DdlStatement::CreateCatalogSchema(c)) => {
                let name = self.schema_to_create(cell, piece, &c.schema_name)?;
                self.create_schema(&name, c.if_not_exists, out).await
            }
            LogicalPlan::Ddl(DdlStatement::DropCatalogSchema(d)) => {
                if let datafusion::common::SchemaReference::Full { catalog, .. } = &d.name {
                    self.check_catalog(catalog)?;
                }
                self.drop_schema(d.name.schema_name(), d.if_exists, d.cascade, out)
                    .await
            }
            // CREATE [OR REPLACE] TABLE is taken by write::run_early before planning; other
            // spellings DataFusion plans the same way are created the same way.
            LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(c)) if !c.temporary => {
                write::create_planned(self, &c, &Default::default(), out, &fail).await
            }
            LogicalPlan::Ddl(DdlStatement::DropTable(d)) if !self.is_session_object(&d.name) => {
                let (schema, table) = self.resolve(&d.name)?;
                self.drop_table(&schema, &table, d.if_exists, out).await
            }
            LogicalPlan::Ddl(DdlStatement::CreateCatalog(c)) => Err(CellError::new(
                "CatalogError",
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
                let df = self.ctx.execute_logical_plan(plan).await.map_err(fail)?;
                if is_ddl {
                    let _ = df.collect().await.map_err(fail)?;
                    let _ = out.send(Output::Message("Done.".into()));
                    return Ok(());
                }
                let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
                let task_ctx = Arc::new(df.task_ctx());
                let physical = df.create_physical_plan().await.map_err(fail)?;
                let stream = datafusion::physical_plan::execute_stream(physical.clone(), task_ctx)
                    .map_err(fail)?;
                let table = self
                    .collect_limited(schema, stream, &physical, started, keep, out)
                    .await
                    .map_err(fail)?;
                let _ = out.send(Output::Table(table));
                self.tables_sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Binds `$name` placeholders to the session's parameters as typed literals.
    fn bind_parameters(
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
                        "ParameterError",
                        format!("positional parameter {id} has no value here; name it: SET x = …, then use $x"),
                    ))
                }
                None => {
                    return Err(CellError::new(
                        "ParameterError",
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
    pub(super) async fn plan_statement(
        &self,
        cell: &str,
        piece: &Piece,
    ) -> Result<LogicalPlan, CellError> {
        let fail = |e| errors::from_datafusion(e, cell, piece, &self.catalog);
        let mut statement = self.parse(cell, piece)?;
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
    async fn eval_scalar(
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
        if let Err(m) = depth::check(&statement) {
            depth::release(statement);
            return Err(CellError::new("StatementTooComplex", m));
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
                "ParameterError",
                format!("{what} needs one value; '{expr}' gives {rows} rows"),
            )),
        }
    }

    /// `ASSERT <condition> [, 'message']`: fails the cell unless the condition is true, so a
    /// notebook run (papermill, nbconvert) stops at a failed check.
    async fn run_assert(
        &self,
        condition: &str,
        message: Option<&str>,
        cell: &str,
        piece: &Piece,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        use datafusion::scalar::ScalarValue;
        self.catalog.next_statement();
        let value = self.eval_scalar(condition, "ASSERT", cell, piece).await?;
        let what = message.map_or_else(|| condition.to_string(), str::to_string);
        match value {
            ScalarValue::Boolean(Some(true)) => {
                let _ = out.send(Output::Message(format!("Passed: {what}")));
                Ok(())
            }
            ScalarValue::Boolean(v) => Err(CellError::new(
                "AssertionError",
                format!(
                    "{what}: the check {condition} is {}",
                    if v.is_some() {
                        "false"
                    } else {
                        "NULL (unknown)"
                    }
                ),
            )
            .with_context(errors::statement_context(piece))),
            other => Err(CellError::new(
                "AssertionError",
                format!(
                    "ASSERT needs a true/false condition; {condition} is {other} ({})",
                    other.data_type()
                ),
            )),
        }
    }

    /// `SET name = expr`: evaluates `expr` once (it may use other parameters) and keeps it.
    async fn set_parameter(
        &self,
        name: &str,
        expr: &str,
        cell: &str,
        piece: &Piece,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        self.catalog.next_statement();
        let value = self
            .eval_scalar(expr, &format!("SET {name}"), cell, piece)
            .await?;
        let _ = out.send(Output::Message(format!(
            "{name} = {} ({})",
            params::show(&value),
            value.data_type()
        )));
        self.params.set(name, value);
        Ok(())
    }

    fn parse(&self, cell: &str, piece: &Piece) -> Result<Statement, CellError> {
        let dialect = GenericDialect {};
        // Read the limit without cloning the whole session state.
        let limit = self
            .ctx
            .state_ref()
            .read()
            .config()
            .options()
            .sql_parser
            .recursion_limit;
        let mut stmts = DFParserBuilder::new(piece.text.as_str())
            .with_dialect(&dialect)
            .with_recursion_limit(limit)
            .build()
            .and_then(|mut p| p.parse_statements())
            .map_err(|e| errors::syntax(e, cell, piece))?;
        match stmts.len() {
            1 => {
                let statement = stmts.pop_front().expect("one statement");
                if let Err(m) = depth::check(&statement) {
                    depth::release(statement);
                    return Err(CellError::new("StatementTooComplex", m)
                        .with_context(errors::statement_context(piece)));
                }
                Ok(statement)
            }
            _ => Err(CellError::new(
                "SyntaxError",
                format!(
                    "expected one statement at line {}, found {}; separate statements with ';'",
                    piece.line,
                    stmts.len()
                ),
            )),
        }
    }

    /// Keeps the first `max_rows` rows and counts the rest, so a huge result costs memory
    /// for the rows shown only.
    ///
    /// A statement that runs longer than [`progress::FIRST_AFTER`] reports its progress
    /// (rows read and produced so far, from the plan's metrics) every [`progress::EVERY`].
    async fn collect_limited(
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

    async fn run_dml(
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

    async fn create_schema(
        &self,
        name: &str,
        if_not_exists: bool,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        // Its levels become folders of the warehouse (checked first: Nessie cannot even look
        // up a namespace with an empty level).
        catalog::check_schema_name(name).map_err(|m| CellError::new("NameError", m))?;
        let cat = self.write_catalog(&self.commit_lineage());
        let ns = catalog::namespace(name);
        let exists = cat
            .namespace_exists(&ns)
            .await
            .map_err(|e| errors::catalog(&format!("cannot check schema {name}"), e))?;
        let msg = if exists {
            if !if_not_exists {
                return Err(CellError::new(
                    "CatalogError",
                    format!("schema {name} already exists; use CREATE SCHEMA IF NOT EXISTS {name} to skip it"),
                ));
            }
            format!("Schema {name} already exists")
        } else {
            // Parents first, as Nessie and Spark's catalogs keep them (`a` for `a.b`), so
            // every level can be listed.
            for level in 1..ns.len() {
                let parent = iceberg::NamespaceIdent::from_vec(ns[..level].to_vec())
                    .map_err(|e| errors::catalog(&format!("cannot create schema {name}"), e))?;
                if cat.namespace_exists(&parent).await.unwrap_or(false) {
                    continue;
                }
                if let Err(e) = cat.create_namespace(&parent, HashMap::new()).await {
                    // Another kernel may create it at the same moment.
                    if !cat.namespace_exists(&parent).await.unwrap_or(false) {
                        return Err(errors::catalog(&format!("cannot create schema {name}"), e));
                    }
                }
            }
            cat.create_namespace(&ns, HashMap::new())
                .await
                .map_err(|e| errors::catalog(&format!("cannot create schema {name}"), e))?;
            format!("Created schema {name}")
        };
        self.refresh_after_ddl().await;
        let _ = out.send(Output::Message(msg));
        Ok(())
    }

    async fn drop_schema(
        &self,
        name: &str,
        if_exists: bool,
        cascade: bool,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        let cat = self.write_catalog(&self.commit_lineage());
        let ns = catalog::namespace(name);
        let exists = cat
            .namespace_exists(&ns)
            .await
            .map_err(|e| errors::catalog(&format!("cannot check schema {name}"), e))?;
        if !exists {
            if if_exists {
                let _ = out.send(Output::Message(format!("Schema {name} does not exist")));
                return Ok(());
            }
            return Err(errors::unknown_schema(name, &self.catalog));
        }
        let tables = cat
            .list_tables(&ns)
            .await
            .map_err(|e| errors::catalog(&format!("cannot list schema {name}"), e))?;
        if !tables.is_empty() && !cascade {
            let names: Vec<_> = tables.iter().map(|t| t.name().to_string()).collect();
            return Err(CellError::new(
                "CatalogError",
                format!(
                    "schema {name} is not empty (tables: {}); drop them first or use DROP SCHEMA {name} CASCADE",
                    names.join(", ")
                ),
            ));
        }
        for t in &tables {
            cat.drop_table(t)
                .await
                .map_err(|e| errors::catalog(&format!("cannot drop table {t}"), e))?;
        }
        cat.drop_namespace(&ns)
            .await
            .map_err(|e| errors::catalog(&format!("cannot drop schema {name}"), e))?;
        self.refresh_after_ddl().await;
        let _ = out.send(Output::Message(format!("Dropped schema {name}")));
        Ok(())
    }

    async fn drop_table(
        &self,
        schema: &str,
        table: &str,
        if_exists: bool,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        let cat = self.write_catalog(&self.commit_lineage());
        let ident = TableIdent::new(catalog::namespace(schema), table.to_string());
        let name = format!("{schema}.{table}");
        let exists = cat.table_exists(&ident).await.unwrap_or(false);
        if !exists {
            if if_exists {
                let _ = out.send(Output::Message(format!("Table {name} does not exist")));
                return Ok(());
            }
            return Err(errors::unknown_table(&name, &self.catalog.listing()));
        }
        cat.drop_table(&ident)
            .await
            .map_err(|e| errors::catalog(&format!("cannot drop table {name}"), e))?;
        self.refresh_after_ddl().await;
        let _ = out.send(Output::Message(format!("Dropped table {name}")));
        Ok(())
    }

    async fn refresh_after_ddl(&self) {
        // Best effort: the next statement that names a table refreshes again anyway.
        let _ = self.catalog.refresh().await;
        self.assist.invalidate();
    }

    /// `[catalog.]schema.table` → (schema, table), with the session's defaults.
    fn resolve(&self, r: &TableReference) -> Result<(String, String), CellError> {
        match r {
            TableReference::Bare { table } => {
                Ok((self.settings.default_schema.clone(), table.to_string()))
            }
            TableReference::Partial { schema, table } => {
                Ok((schema.to_string(), table.to_string()))
            }
            TableReference::Full {
                catalog,
                schema,
                table,
            } => {
                self.check_catalog(catalog)?;
                Ok((schema.to_string(), table.to_string()))
            }
        }
    }

    /// The schema a CREATE SCHEMA names, read from the statement's own identifiers:
    /// DataFusion joins them with '.', which makes a quoted `` `a.b` `` look like catalog `a`,
    /// schema `b`. One identifier is the schema whatever it holds (`` `a.b` `` is schema
    /// `a.b`, whose levels are `a` and `b`); with more, the first is the catalog.
    fn schema_to_create(
        &self,
        cell: &str,
        piece: &Piece,
        joined: &str,
    ) -> Result<String, CellError> {
        use datafusion::sql::sqlparser::ast::{SchemaName, Statement as S};
        let normalize = self
            .ctx
            .state_ref()
            .read()
            .config()
            .options()
            .sql_parser
            .enable_ident_normalization;
        let normalizer = datafusion::sql::planner::IdentNormalizer::new(normalize);
        let parts: Option<Vec<String>> = match self.parse(cell, piece) {
            Ok(Statement::Statement(s)) => match *s {
                S::CreateSchema {
                    schema_name: SchemaName::Simple(n) | SchemaName::NamedAuthorization(n, _),
                    ..
                } => {
                    n.0.iter()
                        .map(|p| p.as_ident().map(|i| normalizer.normalize(i.clone())))
                        .collect()
                }
                _ => None,
            },
            _ => None,
        };
        match parts.as_deref() {
            Some([one]) => Ok(one.clone()),
            Some([cat, rest @ ..]) => {
                self.check_catalog(cat)?;
                Ok(rest.join("."))
            }
            _ => self.strip_catalog(joined),
        }
    }

    fn strip_catalog(&self, schema_name: &str) -> Result<String, CellError> {
        match schema_name.split_once('.') {
            Some((cat, rest)) if cat == CATALOG_NAME => Ok(rest.to_string()),
            Some((cat, _)) => {
                self.check_catalog(cat)?;
                Ok(schema_name.to_string())
            }
            None => Ok(schema_name.to_string()),
        }
    }

    fn check_catalog(&self, name: &str) -> Result<(), CellError> {
        if name == CATALOG_NAME {
            Ok(())
        } else {
            Err(CellError::new(
                "CatalogError",
                format!(
                    "unknown catalog '{name}'; the catalog is '{CATALOG_NAME}' (or leave it out)"
                ),
            ))
        }
    }

    fn is_session_object(&self, r: &TableReference) -> bool {
        let Ok((schema, table)) = self.resolve(r) else {
            return false;
        };
        self.catalog
            .session_objects()
            .contains(&format!("{schema}.{table}"))
    }
}

/// A session on a fresh embedded catalog in a temp folder named after `name`, for tests
/// beside the code; returns the folder so the test can remove it.
#[cfg(test)]
pub(crate) async fn test_engine(name: &str) -> (SqlEngine, std::path::PathBuf) {
    let dir = tests_support::tempdir(name);
    (tests_support::engine(&dir).await, dir)
}

/// `SET lakehouse.max_rows = 200` / `SET lakehouse.max_col_width = 100`: display settings
/// for the rest of the session (the same names as LAKEHOUSE_MAX_ROWS / _MAX_COL_WIDTH).
fn display_setting(text: &str) -> Option<Result<(&'static str, usize), String>> {
    let t = text.trim();
    let rest = t
        .get(..3)
        .filter(|k| k.eq_ignore_ascii_case("SET"))
        .map(|_| t[3..].trim_start())?;
    let (name, value) = rest.split_once(['=', ' '])?;
    let name = name.trim().to_ascii_lowercase();
    let key = name.strip_prefix("lakehouse.")?;
    let value = value
        .trim()
        .trim_start_matches('=')
        .trim()
        .trim_matches('\'');
    let key = match key {
        "max_rows" => "max_rows",
        "max_col_width" => "max_col_width",
        other => {
            return Some(Err(format!(
                "unknown setting lakehouse.{other}; settings changeable in a session: lakehouse.max_rows, lakehouse.max_col_width"
            )))
        }
    };
    Some(match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok((key, n)),
        _ => Err(format!(
            "lakehouse.{key} needs a whole number above 0, not '{value}'"
        )),
    })
}

/// `SHOW SETTINGS`: the kernel's own settings (DataFusion's options are `SHOW ALL`).
fn is_show_settings(text: &str) -> bool {
    let words: Vec<String> = text
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    words == ["SHOW", "SETTINGS"]
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

fn display_name(table_ref: &str) -> String {
    table_ref
        .strip_prefix(&format!("{CATALOG_NAME}."))
        .unwrap_or(table_ref)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::tests_support::{engine, run};
    use super::*;

    #[test]
    fn big_batches_only_where_memory_is_not_tight() {
        assert_eq!(batch_rows(None), BATCH_ROWS);
        assert_eq!(batch_rows(Some(4 << 30)), BATCH_ROWS);
        assert_eq!(batch_rows(Some(64 << 20)), 8192);
    }

    fn messages(outs: &[Output]) -> Vec<String> {
        outs.iter()
            .filter_map(|o| match o {
                Output::Message(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    fn last_table(outs: &[Output]) -> &TableOutput {
        match outs.last() {
            Some(Output::Table(t)) => t,
            other => panic!("expected a result table last, got {other:?}"),
        }
    }

    fn tempdir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("lh-engine-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn issue_example_round_trip_and_persistence() {
        let dir = tempdir("roundtrip");
        {
            let e = engine(&dir).await;
            let (outs, r) = run(
                &e,
                "CREATE SCHEMA IF NOT EXISTS demo;
                 CREATE TABLE IF NOT EXISTS demo.events (customer_id STRING, event_type STRING, ts TIMESTAMP, amount DOUBLE);
                 INSERT INTO demo.events VALUES ('c1', 'purchase', TIMESTAMP '2025-01-16 10:00:00', 12.5),
                                                ('c2', 'view', TIMESTAMP '2025-01-16 11:00:00', NULL);
                 SELECT event_type, count(*) AS n FROM demo.events GROUP BY event_type ORDER BY event_type;",
            )
            .await;
            r.unwrap();
            let msgs = messages(&outs);
            assert_eq!(msgs[0], "Created schema demo");
            assert_eq!(msgs[1], "Created table demo.events (4 columns)");
            assert!(
                msgs[2].starts_with("Inserted 2 rows into demo.events"),
                "{msgs:?}"
            );
            let t = last_table(&outs);
            assert_eq!(t.total_rows, 2);
        }
        // A new session on the same folder sees the table and its rows.
        let e = engine(&dir).await;
        let (outs, r) = run(&e, "SELECT count(*) FROM demo.events").await;
        r.unwrap();
        let t = last_table(&outs);
        let c = t.batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>()
            .unwrap();
        assert_eq!(c.value(0), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_table_names_existing_ones() {
        let dir = tempdir("unknown");
        let e = engine(&dir).await;
        run(&e, "CREATE TABLE events (a INT)").await.1.unwrap();
        let (_, r) = run(&e, "SELECT * FROM evnts").await;
        let err = r.unwrap_err();
        assert_eq!(err.ename, "TableNotFound");
        assert!(err.evalue.contains("default.events"), "{}", err.evalue);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn listing_sees_tables_created_by_another_session() {
        let dir = tempdir("stale");
        let a = engine(&dir).await;
        let b = engine(&dir).await;
        run(&a, "SELECT 1").await.1.unwrap();
        run(&b, "CREATE SCHEMA s2; CREATE TABLE s2.t (x BIGINT)")
            .await
            .1
            .unwrap();
        let (outs, r) = run(
            &a,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 's2'",
        )
        .await;
        r.unwrap();
        let t = last_table(&outs);
        assert_eq!(t.total_rows, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failed_ctas_leaves_no_table() {
        let dir = tempdir("ctas");
        let e = engine(&dir).await;
        let (_, r) = run(
            &e,
            "CREATE TABLE bad AS SELECT 10 / (x - 1) AS y FROM (VALUES (1), (2)) v(x)",
        )
        .await;
        assert!(r.is_err());
        let (_, r) = run(&e, "SELECT * FROM bad").await;
        assert_eq!(r.unwrap_err().ename, "TableNotFound");
        let (outs, r) = run(
            &e,
            "CREATE TABLE good AS SELECT * FROM (VALUES (1), (2)) v(x)",
        )
        .await;
        r.unwrap();
        assert_eq!(
            messages(&outs),
            vec!["Created table default.good with 2 rows"]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_results_keep_only_the_shown_rows() {
        let dir = tempdir("limit");
        let e = engine(&dir).await;
        let (outs, r) = run(&e, "SELECT * FROM range(100000)").await;
        r.unwrap();
        let t = last_table(&outs);
        assert_eq!(t.total_rows, 100000);
        let kept: usize = t.batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(kept, e.display().max_rows);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn show_settings_lists_settings_without_secrets() {
        let dir = tempdir("settings");
        let e = engine(&dir).await;
        let (outs, r) = run(&e, "show settings").await;
        r.unwrap();
        let t = last_table(&outs);
        assert!(t.total_rows >= 10);
        assert_eq!(t.schema.field(0).name(), "setting");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn empty_cells_do_nothing() {
        let dir = tempdir("empty");
        let e = engine(&dir).await;
        for cell in ["", "   \n", ";", "-- only a comment"] {
            let (outs, r) = run(&e, cell).await;
            r.unwrap();
            assert!(outs.is_empty(), "{cell:?} gave {outs:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
