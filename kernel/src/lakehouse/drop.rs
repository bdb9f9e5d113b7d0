//! DROP TABLE … PURGE: the table goes, and its files with it where no one else can use them.

use std::collections::BTreeSet;

use futures::stream;
use iceberg::table::Table;
use iceberg::Catalog;

use super::table::CommitTarget;
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
        CommitTarget::Rest => {
            target
                .catalog
                .purge_table(&target.ident)
                .await
                .map_err(|e| {
                    LakehouseError::iceberg(format!("cannot purge table {}", target.name), e)
                })?;
            Dropped::PurgeRequested
        }
        CommitTarget::Embedded { .. } => {
            let failed =
                |e| LakehouseError::iceberg(format!("cannot purge table {}", target.name), e);
            let table = target
                .catalog
                .load_table(&target.ident)
                .await
                .map_err(failed)?;
            // Listed before the drop, so a manifest that cannot be read stops the purge while
            // the table is still there.
            let gc = table
                .metadata()
                .table_properties()
                .map_err(failed)?
                .gc_enabled;
            let files = referenced_files(&table, gc).await.map_err(failed)?;
            target
                .catalog
                .drop_table(&target.ident)
                .await
                .map_err(failed)?;
            table
                .file_io()
                .delete_stream(stream::iter(files))
                .await
                .map_err(|e| {
                    LakehouseError::iceberg(
                        format!(
                            "table {} is dropped, but some of its files could not be deleted",
                            target.name
                        ),
                        e,
                    )
                })?;
            Dropped::Purged
        }
    })
}

/// Every file `table` references, each once: snapshots' manifest lists, manifests, data and
/// delete files (without them unless `with_data`), metadata and statistics files. iceberg 0.10's
/// `drop_table_data` (what the SQL catalog's `purge_table` runs) deletes each manifest's data
/// files concurrently, so a data file listed by two manifests (an overwrite or an ALTER carries
/// it forward as EXISTING or DELETED) was deleted twice at once and the loser failed with
/// NotFound after the table was already dropped. A purge leaves data files alone when the table
/// says `gc.enabled=false`, as upstream does; orphan removal needs them all.
pub(super) async fn referenced_files(
    table: &Table,
    with_data: bool,
) -> iceberg::Result<BTreeSet<String>> {
    let metadata = table.metadata();
    let io = table.file_io();
    let gc = with_data;
    let mut files = BTreeSet::new();
    for snapshot in metadata.snapshots() {
        let list = table.manifest_list_reader(snapshot).load().await?;
        if !snapshot.manifest_list().is_empty() {
            files.insert(snapshot.manifest_list().to_string());
        }
        for manifest in list.entries() {
            if gc && files.insert(manifest.manifest_path.clone()) {
                let entries = manifest.load_manifest(io).await?;
                for entry in entries.entries() {
                    files.insert(entry.data_file().file_path().to_string());
                }
            } else {
                files.insert(manifest.manifest_path.clone());
            }
        }
    }
    files.extend(
        metadata
            .metadata_log()
            .iter()
            .map(|m| m.metadata_file.clone()),
    );
    files.extend(
        metadata
            .statistics_iter()
            .map(|s| s.statistics_path.clone()),
    );
    files.extend(
        metadata
            .partition_statistics_iter()
            .map(|s| s.statistics_path.clone()),
    );
    files.extend(table.metadata_location().map(str::to_string));
    Ok(files)
}
