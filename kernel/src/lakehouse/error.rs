//! The error of the table operations: one variant per way an operation fails, each naming the
//! object (table, column, schema) and, where there is one, what to do instead.
//!
//! It carries no notebook notions: the SQL front end turns it into a cell's error (a name and
//! a message) in one place, `engines/sql/write`'s `cell_error`.

use datafusion::error::DataFusionError;

/// Why a table operation failed. Nothing was committed unless the variant says the outcome is
/// unknown ([`LakehouseError::Commit`] with `state_unknown`).
#[derive(Debug, thiserror::Error)]
pub enum LakehouseError {
    /// Planning or running the rows to write failed (the query of an INSERT, a CTAS, the rows
    /// a DELETE keeps).
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    /// A catalog or file call failed; `what` says what was being done to which object
    /// ("cannot load table demo.t").
    #[error("{what}: {source}")]
    Iceberg {
        what: String,
        // Boxed, as `failure` below: iceberg's error is large and every operation returns this.
        #[source]
        source: Box<iceberg::Error>,
    },
    /// The table does not exist.
    #[error("table {table} does not exist; create it with CREATE TABLE")]
    TableNotFound { table: String },
    /// The schema (Iceberg namespace) a new table would go into does not exist.
    #[error("schema {schema} does not exist; create it with CREATE SCHEMA {schema}")]
    SchemaNotFound { schema: String },
    /// CREATE TABLE of a table that exists.
    #[error(
        "table {table} already exists; use CREATE TABLE IF NOT EXISTS to skip it, CREATE OR REPLACE TABLE to replace it, or DROP TABLE {table} first"
    )]
    TableExists { table: String },
    /// A schema or table name that would change the folder the table's files go to.
    #[error("{0}")]
    InvalidName(String),
    /// A partition clause that does not fit the table (unknown column, a transform the
    /// column's type does not take).
    #[error("{0}")]
    Partition(String),
    /// A table property the kernel cannot honour (`what` names the table and the fix).
    #[error("{0}")]
    InvalidProperty(String),
    /// A column type Iceberg tables cannot store (`what` names the table and column).
    #[error("{0}")]
    UnstorableType(String),
    /// The catalog is the Iceberg REST catalog, which only takes appends from iceberg-rust
    /// 0.10; `what` is the operation (`INSERT OVERWRITE`, `DELETE`, …).
    #[error(
        "{what} on {table} is not supported on the Iceberg REST catalog yet: iceberg-rust 0.10's \
         REST client can only append. Use INSERT INTO, or the embedded or Nessie catalog"
    )]
    RestCannotCommit { what: String, table: String },
    /// A DELETE condition that cannot be evaluated on the rows of a data file.
    #[error(
        "cannot evaluate the DELETE condition {condition} row by row \
         (subqueries are not supported here): {reason}"
    )]
    ConditionNotEvaluable { condition: String, reason: String },
    /// A DELETE condition that is not true/false.
    #[error("the DELETE condition {condition} is {data_type}, not true/false")]
    ConditionNotBoolean {
        condition: String,
        data_type: String,
    },
    /// ALTER TABLE names a column the table does not have.
    #[error("table {table} has no column '{column}'; its columns: {columns}")]
    ColumnNotFound {
        table: String,
        column: String,
        /// The table's columns, comma-separated.
        columns: String,
    },
    /// ALTER TABLE … ADD COLUMN of a column the table has.
    #[error("table {table} already has a column '{column}'")]
    ColumnExists { table: String, column: String },
    /// ALTER TABLE … RENAME COLUMN to a name the table has.
    #[error("cannot rename {from} to {to}: table {table} already has a column '{to}'")]
    RenameTargetExists {
        table: String,
        from: String,
        to: String,
    },
    /// ALTER TABLE … DROP COLUMN of a partition source column.
    #[error(
        "cannot drop column {column}: {table} is partitioned by it; replace the table \
         (CREATE OR REPLACE TABLE … PARTITIONED BY …) to change its partitioning"
    )]
    PartitionColumn { table: String, column: String },
    /// MERGE matched a target row with more than one source row (Spark refuses it too: the
    /// row would be updated or deleted once per match).
    #[error(
        "MERGE_CARDINALITY_VIOLATION: the MERGE matched a row of {table} with more than one \
         source row; make the source's keys unique (GROUP BY them, or keep one row per key with \
         ROW_NUMBER() OVER (PARTITION BY key …) = 1)"
    )]
    MergeCardinality { table: String },
    /// The commit failed (a concurrent writer, the catalog refused it or could not be
    /// reached). With `failure.state_unknown` the catalog could not say whether it landed.
    #[error("cannot commit to {table}: {}{}", .failure.error.message(), unknown_note(.failure))]
    Commit {
        table: String,
        failure: Box<CommitFailure>,
    },
}

impl LakehouseError {
    /// A failed catalog or file call on an object.
    pub fn iceberg(what: impl Into<String>, source: iceberg::Error) -> LakehouseError {
        LakehouseError::Iceberg {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

/// What a commit whose outcome is unknown adds to its message: how to find out.
fn unknown_note(f: &CommitFailure) -> &'static str {
    if f.state_unknown {
        " — the catalog could not say whether the commit landed; check the table's history \
         ($snapshots) before running the statement again"
    } else {
        ""
    }
}

/// The result of a table operation.
pub type Result<T, E = LakehouseError> = std::result::Result<T, E>;

/// Why a commit failed.
#[derive(Debug)]
pub struct CommitFailure {
    pub error: iceberg::Error,
    /// The catalog could not say whether the commit landed: nothing was cleaned up.
    pub state_unknown: bool,
}

impl From<iceberg::Error> for CommitFailure {
    fn from(error: iceberg::Error) -> Self {
        CommitFailure {
            error,
            state_unknown: false,
        }
    }
}
