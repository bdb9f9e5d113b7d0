//! Listing the files under a table's location, which iceberg's FileIO cannot do: a local
//! folder is walked, an S3 prefix listed through OpenDAL (the library FileIO itself uses) with
//! the session's S3 settings.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::StoredFile;
use crate::settings::S3Settings;

/// Every file under `location` (a local folder, `file://` or `s3://` URI), recursively.
/// A location that does not exist holds no files.
pub async fn list_files(location: &str, s3: &S3Settings) -> Result<Vec<StoredFile>, String> {
    let canonical = super::orphans::canonical(location);
    if let Some(rest) = canonical.strip_prefix("s3://") {
        return list_s3(rest, s3).await;
    }
    if canonical.contains("://") {
        return Err(format!(
            "cannot list {location}: only local folders and s3:// locations can be listed"
        ));
    }
    let root = Path::new(&canonical).to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        walk(&root, &mut out).map(|()| out)
    })
    .await
    .map_err(|e| format!("listing {location} failed: {e}"))?
}

fn walk(dir: &Path, out: &mut Vec<StoredFile>) -> Result<(), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot list {}: {e}", dir.display())),
    };
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        // Symbolic links are not followed: a link out of the table's folder is not its file.
        let kind = entry
            .file_type()
            .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
        if kind.is_dir() {
            walk(&entry.path(), out)?;
        } else if kind.is_file() {
            let meta = entry
                .metadata()
                .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
            out.push(StoredFile {
                location: entry.path().to_string_lossy().into_owned(),
                size: meta.len(),
                modified: meta.modified().ok().map(DateTime::<Utc>::from),
            });
        }
    }
    Ok(())
}

async fn list_s3(bucket_and_prefix: &str, s3: &S3Settings) -> Result<Vec<StoredFile>, String> {
    let (bucket, prefix) = bucket_and_prefix
        .split_once('/')
        .unwrap_or((bucket_and_prefix, ""));
    let mut builder = opendal::services::S3::default()
        .bucket(bucket)
        .root("/")
        .region(s3.region.as_deref().unwrap_or("us-east-1"))
        .disable_config_load();
    if let Some(e) = &s3.endpoint {
        builder = builder.endpoint(e);
    }
    if let Some(k) = &s3.access_key_id {
        builder = builder.access_key_id(k);
    }
    if let Some(k) = &s3.secret_access_key {
        builder = builder.secret_access_key(k);
    }
    if let Some(t) = &s3.session_token {
        builder = builder.session_token(t);
    }
    if !s3.path_style && s3.endpoint.is_none() {
        builder = builder.enable_virtual_host_style();
    }
    let op = opendal::Operator::new(builder)
        .map_err(|e| format!("cannot reach bucket {bucket}: {e}"))?
        .finish();
    let prefix = format!("{}/", prefix.trim_end_matches('/'));
    let entries = op
        .list_with(&prefix)
        .recursive(true)
        .await
        .map_err(|e| format!("cannot list s3://{bucket}/{prefix}: {e}"))?;
    Ok(entries
        .into_iter()
        .filter(|e| e.metadata().is_file())
        .map(|e| {
            let m = e.metadata();
            StoredFile {
                location: format!("s3://{bucket}/{}", e.path().trim_start_matches('/')),
                size: m.content_length(),
                modified: m
                    .last_modified()
                    .map(|t| DateTime::<Utc>::from(std::time::SystemTime::from(t))),
            }
        })
        .collect())
}
