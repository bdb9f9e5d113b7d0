//! A native [Nessie](https://projectnessie.org) catalog for iceberg-rust.
//!
//! [`NessieCatalog`] implements [`iceberg::Catalog`] over the Nessie REST API v2 and stores
//! content exactly as Java's `org.apache.iceberg.nessie.NessieCatalog` does, so Spark and this
//! catalog read and write each other's tables:
//!
//! * a namespace is `NAMESPACE` content (`elements`, `properties`); parents are created with it;
//! * a table is `ICEBERG_TABLE` content whose `metadataLocation` points at a metadata file
//!   written through iceberg's FileIO (`<table>/metadata/NNNNN-<uuid>.metadata.json`), with
//!   `snapshotId`, `schemaId`, `specId` and `sortOrderId` kept in step;
//! * every change is one Nessie commit (`PUT`/`DELETE` operations on `branch@expectedHash`) whose
//!   message says what was done (`CREATE TABLE demo.events`, `INSERT INTO demo.events`, …).
//!
//! Commits: a `409` (the table changed after it was read) drops the metadata file just written,
//! re-reads the table and retries while the commit's requirements still hold; otherwise the
//! error names the table and the commit that changed it, and is marked retryable so
//! `iceberg::transaction::Transaction::commit` can rebuild its change on the new version. A
//! network failure or `5xx` during a commit is treated as "state unknown": the catalog asks Nessie
//! whether the commit landed before reporting anything.
//!
//! Planning cost: [`iceberg::Catalog::load_table`] makes exactly one Nessie call (plus the read of
//! the metadata file from storage).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use iceberg::{Catalog, NamespaceIdent};
//! use lakehouse_nessie::{NessieCatalog, NessieConfig, RefKind};
//!
//! let catalog = NessieCatalog::new(NessieConfig {
//!     uri: "http://localhost:19120/api/v2".into(),
//!     warehouse: "s3://lakehouse/warehouse".into(),
//!     file_io_props: [("s3.endpoint".to_string(), "http://localhost:9000".to_string())].into(),
//!     ..Default::default()
//! })?;
//! catalog.create_namespace(&NamespaceIdent::new("demo".into()), Default::default()).await?;
//! catalog.create_reference("dev", RefKind::Branch, Some("main")).await?;
//! let dev = catalog.with_reference("dev", None);
//! // ... write on `dev`, then:
//! catalog.merge("dev", "main").await?;
//! for c in catalog.log(None, 10).await? {
//!     println!("{} {} {}", c.hash, c.author, c.message);
//! }
//! # Ok(()) }
//! ```

mod catalog;
mod client;
mod config;
mod error;
mod model;
mod names;

pub use catalog::{at_time, NessieCatalog};
pub use config::NessieConfig;
pub use error::{NessieError, Result};
pub use model::{CommitExtra, LogEntry, MergeOutcome, RefKind, Reference};
pub use names::check_path_name;
