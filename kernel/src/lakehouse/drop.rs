//! DROP TABLE … PURGE: the table goes, and its files with it where no one else can use them.

use iceberg::Catalog;

use super::commit::CommitTarget;
use super::{LakehouseError, Result, TableTarget};

/// What a purge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// The table did not exist (and that was allowed).
    Absent,
    /// Dropped from Nessie's reference; its files stay, since other references may use them
    /// (Nessie's garbage collection removes unreferenced files, and Java's NessieCatalog
    /// ignores PURGE for the same reason).
    KeptFiles,
    /// Dropped, and its data and metadata files deleted.
    Purged,
    /// Dropped by the REST catalog, which was asked to purge its files.
    PurgeRequested,
}

/// Drops `target` and deletes its files (see [`Dropped`]). A missing table is
/// [`LakehouseError::TableNotFound`] unless `if_exists`.
pub async fn drop_purge(target: &TableTarget, if_exists: bool) -> Result<Dropped> {
    let exists = target
        .catalog
        .table_exists(&target.ident)
        .await
        .map_err(|e| LakehouseError::iceberg(format!("cannot check table {}", target.name), e))?;
    if !exists {
        if if_exists {
            return Ok(Dropped::Absent);
        }
        return Err(LakehouseError::TableNotFound {
            table: target.name.clone(),
        });
    }
    Ok(match &target.commit {
        CommitTarget::Nessie(n) => {
            n.drop_table(&target.ident).await.map_err(|e| {
                LakehouseError::iceberg(format!("cannot drop table {}", target.name), e)
            })?;
            Dropped::KeptFiles
        }
        CommitTarget::Embedded { .. } | CommitTarget::Rest => {
            target
                .catalog
                .purge_table(&target.ident)
                .await
                .map_err(|e| {
                    LakehouseError::iceberg(format!("cannot purge table {}", target.name), e)
                })?;
            if matches!(target.commit, CommitTarget::Rest) {
                Dropped::PurgeRequested
            } else {
                Dropped::Purged
            }
        }
    })
}
