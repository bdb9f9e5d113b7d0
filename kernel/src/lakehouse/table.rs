//! The table an operation changes: its name, the catalog it is read from, where its commits go
//! and what they record. Every operation but CREATE TABLE takes one.

use std::collections::HashMap;
use std::sync::Arc;

use iceberg::table::Table;
use iceberg::{Catalog, ErrorKind, TableIdent};
use lakehouse_nessie::NessieCatalog;

use super::{LakehouseError, Result};

/// An existing table to change.
#[derive(Debug, Clone)]
pub struct TableTarget {
    /// The table as messages name it (`schema.table`, with `@ref` when one was given).
    pub name: String,
    pub ident: TableIdent,
    /// The catalog the table is read from (on the right Nessie reference, carrying the commit
    /// author and properties there).
    pub catalog: Arc<dyn Catalog>,
    /// Where commits that iceberg-rust cannot make itself go.
    pub commit: CommitTarget,
    /// Extra snapshot summary properties every new snapshot records (the kernel's lineage
    /// keys); the computed counts win over them.
    pub summary: HashMap<String, String>,
}

impl TableTarget {
    /// Fails before anything is written when the catalog cannot take the commits of `what`
    /// (an operation name, for the message).
    pub fn require_custom_commits(&self, what: &str) -> Result<()> {
        if matches!(self.commit, CommitTarget::Rest) {
            return Err(LakehouseError::RestCannotCommit {
                what: what.to_string(),
                table: self.name.clone(),
            });
        }
        Ok(())
    }

    /// The table as it is now.
    pub async fn load(&self) -> Result<Table> {
        match self.catalog.load_table(&self.ident).await {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == ErrorKind::TableNotFound => Err(LakehouseError::TableNotFound {
                table: self.name.clone(),
            }),
            Err(e) => Err(LakehouseError::iceberg(
                format!("cannot load table {}", self.name),
                e,
            )),
        }
    }
}

/// Where a commit goes: the catalog kinds the kernel opens.
#[derive(Debug, Clone)]
pub enum CommitTarget {
    /// The embedded SQL catalog on this SQLite database (`sqlite://…` URI).
    Embedded { db_uri: String },
    /// A Nessie catalog on its reference.
    Nessie(NessieCatalog),
    /// An Iceberg REST catalog: no custom commits yet.
    Rest,
}
