//! Engines run cells and return outputs; they never publish (see ARCHITECTURE.md).
//!
//! The SQL engine owns the session (catalog, DataFusion context, parameters); the Rust engine
//! reaches it only through the [`Session`] trait, so neither imports the other's internals.

pub mod rust;
pub mod sql;

use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::CellError;

/// What a cell produced, in the order produced.
#[derive(Debug)]
pub enum Output {
    /// A sentence saying what a statement did ("Inserted 3 rows into demo.events").
    Message(String),
    /// A result set.
    Table(TableOutput),
    /// The cell asked for its last result as a chart (`%%sql --chart …`); sent first.
    Chart(lakehouse_render::ChartSpec),
    /// A status line for a running statement: shown once it runs longer than
    /// half a second, then updated in place under the same `id`; `done` is the last update.
    Progress { id: u64, text: String, done: bool },
    /// Text a Rust cell printed, as it printed it.
    Stream { stderr: bool, text: String },
    /// A Rust cell's value as a MIME bundle (`text/plain`, `text/html`, ...): the cell's result.
    Rich(Vec<(String, String)>),
}

/// The first rows of a result, and how many rows there were in all.
#[derive(Debug)]
pub struct TableOutput {
    pub schema: SchemaRef,
    /// At most `max_rows` rows (the display limit), possibly in several batches.
    pub batches: Vec<RecordBatch>,
    pub total_rows: usize,
    pub elapsed: Duration,
}

/// Every row of a query, for code rather than for display.
#[derive(Debug)]
pub struct QueryResult {
    /// What the statements that return no rows said.
    pub messages: Vec<String>,
    /// The last statement that returned rows: its schema and all its batches.
    pub rows: Option<(SchemaRef, Vec<RecordBatch>)>,
}

/// The SQL session as other engines see it (the Rust cells' bridge).
#[async_trait::async_trait]
pub trait Session: Send + Sync {
    /// Runs `sql` (one or more statements) as a SQL cell would, keeping every row.
    async fn query(&self, sql: &str) -> Result<QueryResult, CellError>;
    /// Makes `batches` a session table named `name` (`t` or `schema.t`), replacing an earlier
    /// one; returns what was done.
    async fn register_batches(
        &self,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<String, CellError>;
    /// The parameters as one row, one typed column each.
    fn parameters(&self) -> Result<RecordBatch, CellError>;
    /// `SHOW SETTINGS` rows plus the session's display settings and reference.
    fn settings_rows(&self) -> Vec<(String, String)>;
    /// Rows a result table shows.
    fn max_rows(&self) -> usize;
}
