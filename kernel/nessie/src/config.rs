//! Catalog settings: plain data, no side effects.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{NessieError, Result};

/// Settings of a [`crate::NessieCatalog`].
#[derive(Clone, PartialEq, Eq)]
pub struct NessieConfig {
    /// Nessie REST API v2 base, e.g. `http://localhost:19120/api/v2`.
    pub uri: String,
    /// Branch or tag to read and write (default `main`).
    pub reference: String,
    /// Where new tables go: `s3://bucket/path`, `s3a://…`, `file:///path` or a local path.
    pub warehouse: String,
    /// Bearer token sent to Nessie, if the server requires authentication.
    pub token: Option<String>,
    /// iceberg FileIO properties: `s3.endpoint`, `s3.access-key-id`, `s3.secret-access-key`,
    /// `s3.region`, `s3.path-style-access`, … (see `iceberg::io`).
    pub file_io_props: HashMap<String, String>,
    /// Author recorded on commits (default: `$USER`, else `lakehouse-kernel`).
    pub author: Option<String>,
}

impl Default for NessieConfig {
    fn default() -> Self {
        NessieConfig {
            uri: "http://localhost:19120/api/v2".to_string(),
            reference: "main".to_string(),
            warehouse: String::new(),
            token: None,
            file_io_props: HashMap::new(),
            author: None,
        }
    }
}

impl std::fmt::Debug for NessieConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let props: HashMap<&str, &str> = self
            .file_io_props
            .iter()
            .map(|(k, v)| {
                let secret = k.contains("secret") || k.contains("token") || k.contains("key");
                let shown = if secret && !k.ends_with("key-id") {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("NessieConfig")
            .field("uri", &self.uri)
            .field("reference", &self.reference)
            .field("warehouse", &self.warehouse)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("file_io_props", &props)
            .field("author", &self.author)
            .finish()
    }
}

/// Turns a warehouse setting into a location URL the storage factory understands:
/// URLs with a scheme stay as they are (minus a trailing `/`), local paths become `file:///abs/path`.
pub(crate) fn normalize_warehouse(warehouse: &str) -> Result<String> {
    let w = warehouse.trim();
    if w.is_empty() {
        return Err(NessieError::Config(
            "the warehouse is empty: set it to s3://bucket/path or a local directory".to_string(),
        ));
    }
    if let Some(idx) = w.find("://") {
        let scheme = &w[..idx];
        if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(w.trim_end_matches('/').to_string());
        }
    }
    if let Some(rest) = w.strip_prefix("file:") {
        // `file:/tmp/x` (Java's form)
        return Ok(format!("file://{}", rest.trim_end_matches('/')));
    }
    let abs = std::path::absolute(Path::new(w)).map_err(|e| {
        NessieError::Config(format!(
            "cannot resolve the local warehouse path '{w}': {e}"
        ))
    })?;
    let s = abs.to_string_lossy();
    Ok(format!("file://{}", s.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warehouse_forms() {
        assert_eq!(
            normalize_warehouse("s3://b/w/").unwrap(),
            "s3://b/w".to_string()
        );
        assert_eq!(normalize_warehouse("s3a://b/w").unwrap(), "s3a://b/w");
        assert_eq!(normalize_warehouse("/tmp/wh/").unwrap(), "file:///tmp/wh");
        assert_eq!(
            normalize_warehouse("file:/tmp/wh").unwrap(),
            "file:///tmp/wh"
        );
        assert_eq!(
            normalize_warehouse("file:///tmp/wh").unwrap(),
            "file:///tmp/wh"
        );
        assert!(normalize_warehouse(" ").is_err());
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut cfg = NessieConfig {
            token: Some("tok-123".into()),
            ..Default::default()
        };
        cfg.file_io_props
            .insert("s3.secret-access-key".into(), "sekrit".into());
        cfg.file_io_props
            .insert("s3.access-key-id".into(), "AKIA".into());
        let text = format!("{cfg:?}");
        assert!(!text.contains("tok-123") && !text.contains("sekrit"));
        assert!(text.contains("AKIA"));
    }
}
