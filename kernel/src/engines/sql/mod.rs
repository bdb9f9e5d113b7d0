//! The SQL engine: runs the statements of a cell on DataFusion against the Iceberg catalog.
//!
//! It returns outputs (messages and result batches) through a channel as each statement
//! finishes, and never publishes anything itself: the server turns outputs into messages.

mod assist;
pub use lakehouse_grammar::depth;
mod describe;
pub mod dialect;
mod errors;
mod guard;
mod handlers;
mod magic;
mod metanames;
pub use lakehouse_grammar::params;
mod parser;
mod progress;
pub mod refs;
mod sandbox;
#[cfg(test)]
mod scan_tests;
mod session;
mod show_lineage;
mod spark;
pub mod split;
mod summarize;
#[cfg(test)]
mod tests_support;
mod write;

use std::sync::Arc;
use std::time::Instant;

use datafusion::execution::context::SessionContext;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionConfig;
use tokio::sync::mpsc::UnboundedSender;

pub use assist::{Completion, Inspection, IsComplete};

use crate::catalog::{self, LakehouseCatalog, CATALOG_NAME};
use crate::error::{CellError, ErrorKind};
use crate::optimizer::interrupt::{InterruptSwitch, InterruptiblePlanner};
use crate::settings::Settings;
use handlers::display_name;
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
    /// The folders SQL may name files in, when `LAKEHOUSE_EXTERNAL_ACCESS` is off.
    sandbox: Option<sandbox::Sandbox>,
    /// Moves on each interrupt; plans planned before it stop at their next batch.
    interrupt: Arc<InterruptSwitch>,
    /// Spark's or DataFusion's semantics (`SET lakehouse.dialect`).
    dialect: dialect::DialectSwitch,
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
    pub async fn new(settings: Settings) -> Result<Self, CellError> {
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
            .with_create_default_catalog_and_schema(false)
            .with_option_extension(catalog::options::LakehouseOptions {
                iceberg_reader: settings.iceberg_reader.name().to_string(),
            });
        // Memory pool, spilling and target partitions from the limits (crate::limits).
        let (config, runtime) = settings
            .limits
            .session(config)
            .map_err(|m| ErrorKind::Setting.error(m))?;
        // Every plan stops within one batch of an interrupt (optimizer::interrupt).
        let interrupt = Arc::new(InterruptSwitch::default());
        // Spark's operators are planned before DataFusion's (dialect::planner).
        let dialect = dialect::DialectSwitch::new();
        let planners =
            dialect.planners(datafusion::execution::SessionStateDefaults::default_expr_planners());
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_expr_planners(planners)
            .with_query_planner(Arc::new(InterruptiblePlanner::new(interrupt.clone())))
            .build();
        let ctx = SessionContext::new_with_state(state);
        // Spark SQL functions DataFusion lacks (DATEDIFF, DATE(), date_add, …).
        spark::register(&ctx).map_err(|e| {
            ErrorKind::Internal.error(format!("cannot register Spark functions: {e}"))
        })?;
        // Spark's semantics where the engines differ (LAKEHOUSE_DIALECT), after the functions
        // above, which the DataFusion dialect's own replace.
        dialect.apply(&ctx, settings.dialect).map_err(|e| {
            ErrorKind::Internal.error(format!("cannot set up the SQL dialect: {e}"))
        })?;
        // COUNT(DISTINCT) beside other aggregates: integer-like values in one vectorized
        // aggregate, the other types grouped twice (distinct_count, distinct_rule).
        for rule in crate::optimizer::rules(&settings) {
            ctx.add_optimizer_rule(rule);
        }
        ctx.register_catalog(CATALOG_NAME, Arc::new(catalog.clone()));
        let display = Display {
            max_rows: settings.max_rows,
            max_col_width: settings.max_col_width,
        };
        let sandbox = sandbox::Sandbox::from_settings(&settings);
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
            sandbox,
            interrupt,
            dialect,
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

    /// Stops every statement running in the session (SQL cells and the Rust cells' queries)
    /// at its next batch; statements started afterwards run as usual.
    pub fn interrupt(&self) {
        self.interrupt.interrupt();
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
                ErrorKind::Chart,
                "nothing to chart: no statement of the cell returned rows; end the cell with a SELECT",
            ));
        }
        Ok(())
    }

    /// A query that did not fit says which limit and what it asked for (crate::limits),
    /// once its aborted tasks have given their memory back (so the next cell has it all).
    async fn explain_limits(&self, mut e: CellError) -> CellError {
        if e.ename() == "ResourcesExhausted" {
            crate::limits::settle(&self.ctx.runtime_env()).await;
            let raw = std::mem::take(&mut e.evalue);
            e.evalue = self.settings.limits.explain_exhausted(&raw);
            e.traceback[0] = format!("{}: {}", e.ename(), e.evalue);
            e.traceback
                .extend(raw.lines().map(|l| format!("  DataFusion: {}", l.trim())));
        }
        e
    }

    /// Runs one statement, keeping at most `keep` rows of its result: parsed once
    /// ([`parser`]), then one handler per kind of statement.
    async fn execute_piece(
        &self,
        cell: &str,
        piece: &Piece,
        out: &UnboundedSender<Output>,
        keep: usize,
    ) -> Result<(), CellError> {
        use parser::Statement as S;
        let started = Instant::now();
        self.lineage
            .lock()
            .expect("lineage lock")
            .begin_statement(&piece.text);
        let parser::Parsed {
            statement,
            piece,
            tokens,
        } = self.parse_statement(cell, piece)?;
        let piece = &piece;
        match statement {
            S::ShowSettings => self.show_settings(started, out),
            S::ShowLimits => self.show_limits(started, out),
            S::ShowParameters => self.show_parameters(started, out),
            S::SetDisplay { key, value } => self.set_display(key, value, out),
            S::SetDialect(d) => {
                self.dialect.apply(&self.ctx, d).map_err(|e| {
                    ErrorKind::Internal.error(format!("cannot switch the dialect: {e}"))
                })?;
                let _ = out.send(Output::Message(format!(
                    "lakehouse.dialect = {} ({})",
                    d.name(),
                    match d {
                        crate::settings::Dialect::Spark =>
                            "Spark's semantics where Spark and DataFusion differ",
                        crate::settings::Dialect::DataFusion => "DataFusion's own semantics",
                    }
                )));
                Ok(())
            }
            S::SetParameter { name, expr } => {
                self.set_parameter(&name, &expr, cell, piece, out).await
            }
            S::Guarded {
                condition,
                statement,
            } => {
                self.run_guarded(cell, piece, &condition, &statement, out, keep)
                    .await
            }
            S::Assert { condition, message } => {
                self.run_assert(&condition, message.as_deref(), cell, piece, out)
                    .await
            }
            S::ShowLineage(s) => self.run_show_lineage(s, out).await,
            S::Reference(r) => {
                let changes_refs = !matches!(
                    r,
                    refs::RefStatement::List
                        | refs::RefStatement::Show
                        | refs::RefStatement::Log { .. }
                );
                let result = self.run_ref_statement(r, out).await;
                if changes_refs {
                    self.assist.invalidate();
                }
                result
            }
            S::Write(kind) => write::run_early(self, cell, piece, &tokens, kind, out).await,
            S::Describe(d) => self.run_describe(d, out).await,
            S::Summarize { query } => self.run_summarize(cell, piece, query, out).await,
            S::Merge(statement) => write::merge(self, cell, piece, *statement, started, out).await,
            S::Sql(statement) => {
                self.run_sql(cell, piece, *statement, started, out, keep)
                    .await
            }
        }
    }
}

/// A session on a fresh embedded catalog in a temp folder named after `name`, for tests
/// beside the code; returns the folder so the test can remove it.
#[cfg(test)]
pub(crate) async fn test_engine(name: &str) -> (SqlEngine, std::path::PathBuf) {
    let dir = tests_support::tempdir(name);
    (tests_support::engine(&dir).await, dir)
}

#[cfg(test)]
mod tests {
    use super::tests_support::{engine, last_table, run, tempdir};
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn issue_example_round_trip_and_persistence() {
        let dir = tempdir("engine-roundtrip");
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
    async fn results_carry_spark_names_in_the_spark_dialect_only() {
        let (e, dir) = test_engine("spark-names").await;
        let names = |outs: &[Output]| -> Vec<String> {
            let t = last_table(outs);
            t.schema.fields().iter().map(|f| f.name().clone()).collect()
        };
        let sql =
            "SELECT a, CAST(a AS DOUBLE), CAST(b AS INT), a + 1, count(*), max(a) AS Max_A, B \
                   FROM (VALUES (1, 2)) AS t(a, b) GROUP BY a, b ORDER BY Max_A";
        let (outs, r) = run(&e, sql).await;
        r.unwrap();
        assert_eq!(
            names(&outs),
            [
                "a",
                "CAST(a AS DOUBLE)",
                // `b` is taken (case aside) by `B`: the cast keeps its own name.
                "CAST(b AS INT)",
                "(a + 1)",
                "count(1)",
                "Max_A",
                "B"
            ]
        );
        let (outs, r) = run(
            &e,
            "SET lakehouse.dialect = 'datafusion'; SELECT a + 1, count(*) FROM (VALUES (1)) AS t(a) GROUP BY a",
        )
        .await;
        r.unwrap();
        assert_eq!(names(&outs), ["t.a + Int64(1)", "count(*)"]);
        let (outs, r) = run(&e, "SET lakehouse.dialect = 'spark'; VALUES (1, 'a')").await;
        r.unwrap();
        assert_eq!(names(&outs), ["col1", "col2"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_results_keep_only_the_shown_rows() {
        let dir = tempdir("engine-limit");
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
        let dir = tempdir("engine-settings");
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
        let dir = tempdir("engine-empty");
        let e = engine(&dir).await;
        for cell in ["", "   \n", ";", "-- only a comment"] {
            let (outs, r) = run(&e, cell).await;
            r.unwrap();
            assert!(outs.is_empty(), "{cell:?} gave {outs:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
