//! The lakehouse kernel's statement grammar, with no execution in it: a cell split into
//! statements ([`split`]), names with references and snapshots ([`versioned`], [`travel`]),
//! `${name}` parameters ([`params`]), Spark's syntax as DataFusion's parser reads it
//! ([`dialect`]), and the depth limit every parsed statement is checked against ([`depth`]).
//!
//! It is a crate of its own so the fuzz targets (`kernel/fuzz`) can build the parser with
//! coverage instrumentation in minutes, without the kernel's 700 dependencies.

/// Name of the Iceberg catalog inside DataFusion (as in Spark's `spark.sql.catalog.lakehouse`).
pub const CATALOG_NAME: &str = "lakehouse";

pub mod depth;
pub mod describe;
pub mod dialect;
pub mod error;
pub mod errors;
pub mod guard;
pub mod options;
pub mod params;
pub mod parser;
pub mod refs;
pub mod show_lineage;
pub mod split;
pub mod summarize;
pub mod tokens;
pub mod travel;
pub mod versioned;
pub mod write;
