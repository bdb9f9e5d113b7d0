//! Orphan files: files under a table's folders that no metadata file, snapshot, manifest or
//! statistics file references, as a crash in the middle of a write or a cleanup that failed
//! leaves them. Iceberg's `remove_orphan_files` action, on the table's own listing.
//!
//! Only files older than a safety window count: a writer that has written its data files but
//! not committed yet must not lose them. Only the table's `data/` and `metadata/` folders are
//! looked at, and any table whose folder lies inside them (a namespace named like a table's
//! folder) is left alone, so removing one table's orphans never touches another table.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use futures::stream;
use iceberg::table::Table;

use super::drop::referenced_files;
use super::{LakehouseError, Result};

/// A file found under a table's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Its location as the table's metadata would name it (`s3://bucket/key`, `/abs/path`).
    pub location: String,
    pub size: u64,
    /// When it was last written; a file whose time is unknown is never an orphan.
    pub modified: Option<DateTime<Utc>>,
}

/// The orphans of `table` among `stored` (what is under its location), last modified before
/// `older_than`, sorted by location.
pub async fn orphans(
    table: &Table,
    stored: Vec<StoredFile>,
    older_than: DateTime<Utc>,
) -> Result<Vec<StoredFile>> {
    let name = table.identifier().to_string();
    let referenced: BTreeSet<String> = referenced_files(table, true)
        .await
        .map_err(|e| LakehouseError::iceberg(format!("cannot list the files of table {name}"), e))?
        .iter()
        .map(|f| canonical(f))
        .collect();
    let root = canonical(table.metadata().location());
    let root = root.trim_end_matches('/');
    let own = [format!("{root}/data/"), format!("{root}/metadata/")];
    let stored: Vec<StoredFile> = stored
        .into_iter()
        .map(|f| StoredFile {
            location: canonical(&f.location),
            ..f
        })
        .filter(|f| own.iter().any(|p| f.location.starts_with(p)))
        .collect();
    // Folders of other tables inside ours: where a `metadata/*.metadata.json` is found other
    // than our own metadata folder.
    let own_metadata = format!("{root}/metadata");
    let foreign: Vec<String> = stored
        .iter()
        .filter(|f| f.location.ends_with(".metadata.json"))
        .filter_map(|f| {
            let folder = f.location.rsplit_once('/')?.0;
            (folder != own_metadata)
                .then(|| folder.strip_suffix("/metadata"))
                .flatten()
                .map(|t| format!("{t}/"))
        })
        .collect();
    let mut found: Vec<StoredFile> = stored
        .into_iter()
        .filter(|f| !referenced.contains(&f.location))
        .filter(|f| !foreign.iter().any(|t| f.location.starts_with(t)))
        .filter(|f| f.modified.is_some_and(|m| m < older_than))
        .collect();
    found.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(found)
}

/// Deletes `files` through the table's FileIO.
pub async fn remove(table: &Table, files: &[StoredFile]) -> Result<()> {
    // FileIO takes URLs: a local path is a file:// one.
    let paths: Vec<String> = files
        .iter()
        .map(|f| match f.location.starts_with('/') {
            true => format!("file://{}", f.location),
            false => f.location.clone(),
        })
        .collect();
    table
        .file_io()
        .delete_stream(Box::pin(stream::iter(paths)))
        .await
        .map_err(|e| {
            LakehouseError::iceberg(
                format!("cannot delete orphan files of table {}", table.identifier()),
                e,
            )
        })
}

/// One spelling per file: `file:///a` and `/a` are the same file, as are `s3a://` and `s3://`.
pub fn canonical(location: &str) -> String {
    if let Some(rest) = location.strip_prefix("file://") {
        return rest.to_string();
    }
    if let Some(rest) = location.strip_prefix("file:") {
        return rest.to_string();
    }
    for scheme in ["s3a://", "s3n://"] {
        if let Some(rest) = location.strip_prefix(scheme) {
            return format!("s3://{rest}");
        }
    }
    location.to_string()
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn one_spelling_per_file() {
        assert_eq!(
            canonical("file:///w/t/data/a.parquet"),
            "/w/t/data/a.parquet"
        );
        assert_eq!(canonical("file:/w/t"), "/w/t");
        assert_eq!(canonical("/w/t"), "/w/t");
        assert_eq!(canonical("s3a://b/k"), "s3://b/k");
        assert_eq!(canonical("s3://b/k"), "s3://b/k");
    }
}
