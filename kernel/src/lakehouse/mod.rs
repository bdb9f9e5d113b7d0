//! Iceberg table operations, with no notebook notions: create (with partition spec,
//! properties and CREATE TABLE AS rows), append, overwrite, delete, update, alter, drop with purge and
//! replace, orphan files, each a small operation in its own file, and one commit path (`commit`: retry on
//! conflict, check whether a failed commit landed, remove what a failed attempt wrote).
//!
//! Operations take iceberg and DataFusion types (a [`TableTarget`] or an `iceberg::Catalog`,
//! a `SessionState` to plan and run the rows to write, `LogicalPlan`s and `Expr`s) and return
//! a [`LakehouseError`]; the SQL front end (`engines/sql/write`) parses statements, calls them
//! and turns their results into messages. So a new front end (MERGE INTO, a cluster engine) can
//! use them without touching the SQL one, and they are tested from plain Rust (`tests.rs`).
//!
//! New data files are written by iceberg-datafusion's own writer (`data_files`); the snapshots
//! iceberg-rust 0.10 cannot build itself (everything but an append) are built by `snapshot`.
//! Each operation is one Iceberg commit: a failing operation leaves the table as it was.

mod alter;
mod append;
mod commit;
mod create;
mod data_files;
mod delete;
mod drop;
mod error;
mod fixed_catalog;
mod listing;
mod merge;
mod orphans;
mod overwrite;
mod partition;
mod partition_decider;
mod replace;
mod snapshot;
mod table;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
mod update;
mod write_properties;

pub use alter::{set_properties, AlterTable, ColumnChange};
pub use append::{append, append_with_retries, fast_append, retry_delay};
pub use commit::commit;
pub use create::{default_properties, display_name, table_exists, table_schema, CreateTable};
pub use data_files::{delete_quietly, write_data_files};
pub use delete::{delete, Deleted};
pub use drop::{drop_purge, Dropped};
pub use error::{CommitFailure, LakehouseError, Result};
pub use listing::list_files;
pub use merge::{merge, MergeAction, MergeClause, MergeSpec, MergeWhen, Merged};
pub use orphans::{canonical as canonical_location, orphans, remove as remove_orphans, StoredFile};
pub use overwrite::{overwrite, Overwritten};
pub use partition::{partition_field_name, partition_spec, PartitionField};
pub use replace::{replacement_schema, ReplaceTable, Replaced};
pub use snapshot::{
    base_requirements, only_disjoint_appends, schema_requirements, stage_metadata, stage_snapshot,
    Removal, SnapshotChange, StagedCommit,
};
pub use table::{CommitTarget, TableTarget};
pub use update::{update, Updated};

#[cfg(test)]
pub(crate) use append::NO_JITTER;
