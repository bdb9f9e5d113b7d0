//! The one commit path of the table operations: a staged snapshot or schema change goes to
//! the catalog kind the table lives in, a conflict is retried where that cannot lose anyone's
//! rows, a failure the catalog cannot explain is checked (did the commit land?) before it is
//! reported, and whatever a failed attempt wrote is deleted again.
//!
//! iceberg-rust 0.10's `Transaction` can only append, so the snapshots of the other operations
//! are built by [`super::snapshot`] and committed here to each catalog kind:
//!
//! * embedded: what `iceberg-catalog-sql`'s `update_table` does — apply the updates to the
//!   metadata, write the new metadata file, compare-and-swap the `metadata_location` row in the
//!   same SQLite database;
//! * Nessie: [`NessieCatalog::commit_table_updates`] (our crate), which itself asks Nessie
//!   whether a commit whose answer was lost landed;
//! * REST: not supported yet (the REST client's HTTP session and auth are private to
//!   iceberg-catalog-rest); such operations fail with a clear error and change nothing.
//!
//! A failed commit deletes the files its attempt wrote (unless the outcome is unknown).

use std::str::FromStr;

use iceberg::table::Table;
use iceberg::{Catalog, Error, ErrorKind, MetadataLocation, TableIdent, TableUpdate};
use lakehouse_nessie::NessieError;

use super::data_files::delete_quietly;
use super::snapshot::{self, SnapshotChange, StagedCommit};
use super::{CommitFailure, CommitTarget, LakehouseError, TableTarget};
use crate::catalog::{schema_name, CATALOG_NAME};

/// Commits `staged` to table `ident`. On a definite failure the metadata files it wrote are
/// deleted (the caller deletes its data files); the table stays as it was.
///
/// `catalog` is the session's catalog on the same reference as `target` (used to read the
/// table's current metadata for the embedded catalog).
pub async fn commit(
    target: &CommitTarget,
    catalog: &dyn Catalog,
    base: &Table,
    staged: StagedCommit,
) -> Result<(), CommitFailure> {
    let ident = base.identifier().clone();
    let result = match target {
        CommitTarget::Embedded { db_uri } => {
            commit_embedded(db_uri, catalog, &ident, &staged).await
        }
        CommitTarget::Nessie(nessie) => nessie
            .commit_table_updates(
                ident.clone(),
                staged.requirements.clone(),
                staged.updates.clone(),
            )
            .await
            .map(|_| ())
            .map_err(|e| {
                let state_unknown = matches!(e, NessieError::CommitStateUnknown { .. });
                CommitFailure {
                    error: e.into(),
                    state_unknown,
                }
            }),
        CommitTarget::Rest => Err(Error::new(
            ErrorKind::FeatureUnsupported,
            "this statement needs a commit that iceberg-rust 0.10's REST client cannot send \
             (it only appends); use the embedded or the Nessie catalog for INSERT OVERWRITE, \
             DELETE, CREATE OR REPLACE TABLE and RENAME COLUMN",
        )
        .into()),
    };
    if let Err(f) = &result {
        if !f.state_unknown {
            delete_quietly(base.file_io(), &staged.written).await;
        }
    }
    result
}

/// `iceberg-catalog-sql`'s `update_table`, with our requirements and updates: check the
/// requirements on the current metadata, write the next metadata file, and swap the
/// catalog row only if it still points at the metadata we read.
async fn commit_embedded(
    db_uri: &str,
    catalog: &dyn Catalog,
    ident: &TableIdent,
    staged: &StagedCommit,
) -> Result<(), CommitFailure> {
    let table = catalog.load_table(ident).await?;
    let current_location = table.metadata_location_result()?.to_string();
    let current = table.metadata();
    for r in &staged.requirements {
        r.check(Some(current))
            .map_err(|e| changed_meanwhile(ident, e))?;
    }
    let mut builder = current.clone().into_builder(Some(current_location.clone()));
    for u in staged.updates.iter().cloned() {
        builder = u.apply(builder)?;
    }
    let new_metadata = builder.build()?.metadata;
    let new_location = match MetadataLocation::from_str(&current_location) {
        Ok(l) => l.with_next_version().with_new_metadata(&new_metadata),
        Err(_) => MetadataLocation::new_with_metadata(new_metadata.location(), &new_metadata),
    };
    new_metadata
        .write_to(table.file_io(), &new_location)
        .await?;
    let new_location = new_location.to_string();
    let swapped = swap_location(db_uri, ident, &current_location, &new_location).await;
    match swapped {
        Ok(true) => Ok(()),
        Ok(false) => {
            delete_quietly(table.file_io(), std::slice::from_ref(&new_location)).await;
            Err(changed_meanwhile(
                ident,
                Error::new(
                    ErrorKind::CatalogCommitConflicts,
                    "its metadata location changed",
                ),
            )
            .into())
        }
        Err(e) => {
            // SQLite applies an UPDATE entirely or not at all: a failed one changed nothing.
            delete_quietly(table.file_io(), std::slice::from_ref(&new_location)).await;
            Err(e.into())
        }
    }
}

async fn swap_location(
    db_uri: &str,
    ident: &TableIdent,
    current: &str,
    new: &str,
) -> iceberg::Result<bool> {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let sql_err =
        |e: sqlx::Error| Error::new(ErrorKind::Unexpected, format!("catalog database: {e}"));
    let options = SqliteConnectOptions::from_str(db_uri)
        .map_err(sql_err)?
        .busy_timeout(std::time::Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(sql_err)?;
    let done = sqlx::query(
        "UPDATE iceberg_tables
            SET metadata_location = ?, previous_metadata_location = ?
          WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?
            AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)
            AND metadata_location = ?",
    )
    .bind(new)
    .bind(current)
    .bind(CATALOG_NAME)
    .bind(schema_name(ident.namespace()))
    .bind(ident.name())
    .bind(current)
    .execute(&pool)
    .await
    .map_err(sql_err)?;
    pool.close().await;
    Ok(done.rows_affected() == 1)
}

fn changed_meanwhile(ident: &TableIdent, e: Error) -> Error {
    Error::new(
        ErrorKind::CatalogCommitConflicts,
        format!(
            "table {ident} changed while this statement ran (another writer committed: {}); \
             nothing was changed — run the statement again",
            e.message()
        ),
    )
}

impl TableTarget {
    /// Commits `staged` (see [`commit`]).
    pub async fn commit(&self, base: &Table, staged: StagedCommit) -> Result<(), LakehouseError> {
        self.commit_raw(base, staged)
            .await
            .map_err(|failure| LakehouseError::Commit {
                table: self.name.clone(),
                failure: Box::new(failure),
            })
    }

    async fn commit_raw(&self, base: &Table, staged: StagedCommit) -> Result<(), CommitFailure> {
        commit(&self.commit, self.catalog.as_ref(), base, staged).await
    }

    /// Stages `change` on `base` (after the `pre` updates; `staged_table` is the metadata the
    /// new files were written for, `base` itself when `None`) and commits it. With
    /// `retry_appends`, a conflict caused only by appends whose files the change does not drop
    /// is retried on the new table state (up to 3 attempts), so INSERT INTOs into other
    /// partitions do not fail a dynamic overwrite. On failure the new data files are deleted
    /// (unless the outcome is unknown). Returns the data files and rows the new snapshot
    /// dropped.
    pub async fn commit_change(
        &self,
        base: Table,
        staged_table: Option<Table>,
        change: SnapshotChange,
        pre: Vec<TableUpdate>,
        retry_appends: bool,
    ) -> Result<(usize, u64), LakehouseError> {
        const ATTEMPTS: usize = 3;
        let data: Vec<String> = change
            .added
            .iter()
            .map(|f| f.file_path().to_string())
            .collect();
        let file_io = base.file_io().clone();
        let mut base = base;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let on = staged_table.clone().unwrap_or_else(|| base.clone());
            let staged =
                match snapshot::stage_snapshot(&base, &on, change.clone(), pre.clone()).await {
                    Ok(s) => s,
                    Err(e) => {
                        delete_quietly(&file_io, &data).await;
                        return Err(LakehouseError::iceberg(
                            format!("cannot write to {}", self.name),
                            e,
                        ));
                    }
                };
            let counts = (staged.removed_files, staged.removed_rows);
            let failure = match self.commit_raw(&base, staged).await {
                Ok(()) => return Ok(counts),
                Err(f) => f,
            };
            let conflict =
                !failure.state_unknown && failure.error.kind() == ErrorKind::CatalogCommitConflicts;
            if retry_appends && conflict && attempt < ATTEMPTS {
                if let Ok(fresh) = self.catalog.load_table(&self.ident).await {
                    if snapshot::only_disjoint_appends(&base, &fresh, &change.removal).await {
                        base = fresh;
                        continue;
                    }
                }
            }
            if !failure.state_unknown {
                delete_quietly(&file_io, &data).await;
            }
            return Err(LakehouseError::Commit {
                table: self.name.clone(),
                failure: Box::new(failure),
            });
        }
    }
}
