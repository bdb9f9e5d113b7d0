//! [`NessieCatalog`]: an `iceberg::Catalog` whose tables are Nessie `ICEBERG_TABLE` content,
//! stored the way Java's `org.apache.iceberg.nessie.NessieCatalog` stores them.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iceberg::io::{FileIO, FileIOBuilder};
use iceberg::spec::{Operation as SnapshotOperation, TableMetadata, TableMetadataBuilder};
use iceberg::table::Table;
use iceberg::{
    Catalog, MetadataLocation, Namespace, NamespaceIdent, Runtime, TableCommit, TableCreation,
    TableIdent, TableRequirement, TableUpdate,
};
use iceberg_storage_opendal::OpenDalResolvingStorageFactory;
use reqwest::StatusCode;

use crate::client::{ref_path, CallError, NessieClient};
use crate::config::{normalize_warehouse, NessieConfig};
use crate::error::{NessieError, Result};
use crate::model::*;
use crate::names::check_path_name;

mod commit;
mod namespaces;
mod refs;
mod tables;

/// Refuses a namespace whose levels would change the folder its tables live under.
fn check_namespace(ns: &NamespaceIdent) -> Result<()> {
    ns.iter()
        .try_for_each(|level| check_path_name("schema", level))
        .map_err(NessieError::InvalidName)
}

/// How often a commit whose expected hash went stale (409) is refreshed and retried inside one
/// catalog call before the conflict is reported.
const MAX_COMMIT_ATTEMPTS: usize = 5;

/// Namespace property that overrides where a namespace's tables are created.
const NAMESPACE_LOCATION: &str = "location";

struct Shared {
    client: NessieClient,
    file_io: FileIO,
    warehouse: String,
    author: String,
    config: NessieConfig,
}

/// A Nessie catalog pinned to one reference (a branch, a tag, or a commit of either).
///
/// Cheap to clone; [`NessieCatalog::with_reference`] gives a view of another ref sharing the
/// same HTTP client and FileIO. Writes go to the HEAD of the branch with an expected-hash check;
/// on a tag or a pinned commit they are refused.
#[derive(Clone)]
pub struct NessieCatalog {
    shared: Arc<Shared>,
    reference: String,
    hash: Option<String>,
    commit_message: Option<String>,
    commit_extra: Option<Arc<CommitExtra>>,
}

impl std::fmt::Debug for NessieCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NessieCatalog")
            .field("config", &self.shared.config)
            .field("reference", &self.reference)
            .field("hash", &self.hash)
            .finish()
    }
}

fn table_key(t: &TableIdent) -> ContentKey {
    let mut elements = t.namespace().clone().inner();
    elements.push(t.name().to_string());
    ContentKey { elements }
}

fn ns_key(ns: &NamespaceIdent) -> ContentKey {
    ContentKey {
        elements: ns.clone().inner(),
    }
}

fn dotted(elements: &[String]) -> String {
    elements.join(".")
}

/// Table properties Java's NessieCatalog gives every new table.
const JAVA_TABLE_DEFAULTS: [(&str, &str); 2] = [
    ("gc.enabled", "false"),
    ("write.metadata.delete-after-commit.enabled", "false"),
];

/// The relative commit spec for "HEAD of the reference at `epoch_millis`", usable wherever a
/// hash is (`with_reference(name, Some(at_time(ms)))`, `resolve(Some("main@*…"))`).
pub fn at_time(epoch_millis: i64) -> String {
    format!("*{epoch_millis}")
}

/// Parses `name`, `name@hash` or `@hash`.
fn parse_ref_spec(spec: &str) -> (String, Option<String>) {
    match spec.split_once('@') {
        Some((name, hash)) if !hash.is_empty() => (name.to_string(), Some(hash.to_string())),
        Some((name, _)) => (name.to_string(), None),
        None => (spec.to_string(), None),
    }
}

impl NessieCatalog {
    /// Creates a catalog from settings. Does not contact Nessie: a wrong URI or reference is
    /// reported (naming the URI or listing the references) by the first call that needs them.
    pub fn new(config: NessieConfig) -> Result<Self> {
        let client = NessieClient::new(&config.uri, config.token.clone())?;
        let warehouse = normalize_warehouse(&config.warehouse)?;
        let reference = if config.reference.trim().is_empty() {
            "main".to_string()
        } else {
            config.reference.trim().to_string()
        };
        let file_io = FileIOBuilder::new(Arc::new(OpenDalResolvingStorageFactory::new()))
            .with_props(config.file_io_props.clone())
            .build();
        let author = config
            .author
            .clone()
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "lakehouse-kernel".to_string());
        let (reference, hash) = parse_ref_spec(&reference);
        Ok(NessieCatalog {
            shared: Arc::new(Shared {
                client,
                file_io,
                warehouse,
                author,
                config,
            }),
            reference,
            hash,
            commit_message: None,
            commit_extra: None,
        })
    }

    /// The same catalog on another branch or tag, optionally pinned to a commit `hash`
    /// (read-only then). No network call.
    pub fn with_reference(&self, name: &str, hash: Option<String>) -> NessieCatalog {
        let (name, parsed_hash) = parse_ref_spec(name);
        NessieCatalog {
            shared: self.shared.clone(),
            reference: name,
            hash: hash.or(parsed_hash),
            commit_message: None,
            // Who writes does not change with where: the lineage stays.
            commit_extra: self.commit_extra.clone(),
        }
    }

    /// The same catalog, but commits made through it carry `message` instead of the derived one
    /// (e.g. the SQL statement that caused them). No network call.
    pub fn with_commit_message(&self, message: impl Into<String>) -> NessieCatalog {
        NessieCatalog {
            commit_message: Some(message.into()),
            ..self.clone()
        }
    }

    /// The same catalog, but commits made through it name `extra.author` as their author and
    /// carry `extra.properties` (the kernel's lineage). No network call.
    pub fn with_commit_extra(&self, extra: CommitExtra) -> NessieCatalog {
        NessieCatalog {
            commit_extra: Some(Arc::new(extra)),
            ..self.clone()
        }
    }

    /// The reference name this catalog reads and writes.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The commit this catalog is pinned to, if any.
    pub fn pinned_hash(&self) -> Option<&str> {
        self.hash.as_deref()
    }

    /// The Nessie API URI.
    pub fn uri(&self) -> &str {
        self.shared.client.uri()
    }

    /// The normalized warehouse location.
    pub fn warehouse(&self) -> &str {
        &self.shared.warehouse
    }

    /// Number of HTTP requests sent to Nessie by this catalog and every catalog derived from it
    /// (clones, [`Self::with_reference`]). Lets callers check their per-query request budget.
    pub fn nessie_requests(&self) -> u64 {
        self.shared.client.request_count()
    }

    /// The FileIO used for metadata and data files.
    pub fn file_io(&self) -> &FileIO {
        &self.shared.file_io
    }

    fn read_ref(&self) -> String {
        ref_path(&self.reference, self.hash.as_deref())
    }

    fn describe_ref(&self) -> String {
        match &self.hash {
            Some(h) if h.starts_with('*') => {
                let when = h[1..]
                    .parse::<i64>()
                    .ok()
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map_or_else(|| h[1..].to_string(), |t| t.to_rfc3339());
                format!("'{}' as of {when}", self.reference)
            }
            Some(h) => format!("'{}' at commit {}", self.reference, short(h)),
            None => format!("'{}'", self.reference),
        }
    }

    fn client(&self) -> &NessieClient {
        &self.shared.client
    }

    // --- error helpers ------------------------------------------------------------------------

    async fn reference_not_found(&self, name: &str) -> NessieError {
        let existing = match self.client().list_references().await {
            Ok(refs) => refs
                .iter()
                .map(|r| format!("{} ({})", r.name, r.kind))
                .collect(),
            Err(_) => vec![],
        };
        NessieError::ReferenceNotFound {
            name: name.to_string(),
            existing,
        }
    }

    /// Maps a call error on this catalog's reference.
    async fn fail(&self, e: CallError) -> NessieError {
        if e.is_reference_not_found() {
            if let Some(h) = &self.hash {
                // Either the name or the pinned commit is unknown.
                if self.client().get_reference(&self.reference).await.is_ok() {
                    return NessieError::ReferenceNotFound {
                        name: format!("{}@{}", self.reference, h),
                        existing: vec![format!(
                            "commit {h} is not on '{}' (check the hash)",
                            self.reference
                        )],
                    };
                }
            }
            return self.reference_not_found(&self.reference).await;
        }
        self.client().generic(e)
    }

    async fn contents(
        &self,
        keys: &[ContentKey],
    ) -> Result<(HashMap<ContentKey, Content>, String)> {
        match self.client().get_contents(&self.read_ref(), keys).await {
            Ok(resp) => {
                let eff = resp.effective_reference;
                let kind = eff.as_ref().map(|r| r.kind.clone()).unwrap_or_default();
                let hash = eff.and_then(|r| r.hash).unwrap_or_default();
                let map = resp
                    .contents
                    .into_iter()
                    .map(|c| (c.key, c.content))
                    .collect();
                Ok((map, format!("{kind}@{hash}")))
            }
            Err(e) => Err(self.fail(e).await),
        }
    }

    /// Checks that a write may happen here and returns the expected HEAD hash for the commit.
    /// `effective` is the `KIND@hash` returned by [`Self::contents`].
    fn writable(&self, action: &str, effective: &str) -> Result<String> {
        if let Some(h) = &self.hash {
            return Err(NessieError::ReadOnlyReference {
                action: action.to_string(),
                reference: format!("'{}' at commit {}", self.reference, short(h)),
                reason: "a catalog pinned to a commit is read-only; use the branch itself (without a hash) to write".to_string(),
            });
        }
        let (kind, hash) = effective.split_once('@').unwrap_or(("", effective));
        if kind == "TAG" {
            return Err(NessieError::ReadOnlyReference {
                action: action.to_string(),
                reference: format!("tag '{}'", self.reference),
                reason:
                    "tags are read-only; switch to a branch (or create one from this tag) to write"
                        .to_string(),
            });
        }
        if hash.is_empty() {
            return Err(NessieError::Config(format!(
                "Nessie did not report the HEAD of '{}'",
                self.reference
            )));
        }
        Ok(hash.to_string())
    }

    fn commit_meta(&self, message: String, extra: &[(&str, &str)]) -> CommitMetaRequest {
        let mut all_properties: HashMap<String, Vec<String>> = HashMap::new();
        let extra_meta = self.commit_extra.as_deref();
        for (k, v) in extra_meta
            .map(|e| e.properties.as_slice())
            .unwrap_or_default()
        {
            all_properties.insert(k.clone(), vec![v.clone()]);
        }
        all_properties.insert(
            "application-type".to_string(),
            vec!["lakehouse-kernel".to_string()],
        );
        for (k, v) in extra {
            all_properties.insert(k.to_string(), vec![v.to_string()]);
        }
        CommitMetaRequest {
            message: self.commit_message.clone().unwrap_or(message),
            authors: vec![extra_meta
                .and_then(|e| e.author.clone())
                .unwrap_or_else(|| self.shared.author.clone())],
            all_properties,
        }
    }
}

// --- iceberg::Catalog -----------------------------------------------------------------------------

#[async_trait]
impl Catalog for NessieCatalog {
    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
    ) -> iceberg::Result<Vec<NamespaceIdent>> {
        Ok(self.do_list_namespaces(parent).await?)
    }

    async fn create_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<Namespace> {
        Ok(self.do_create_namespace(namespace, properties).await?)
    }

    async fn get_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<Namespace> {
        let (_, props, _) = self.namespace_content(namespace).await?;
        Ok(Namespace::with_properties(namespace.clone(), props))
    }

    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> iceberg::Result<bool> {
        let key = ns_key(namespace);
        let (contents, _) = self.contents(std::slice::from_ref(&key)).await?;
        Ok(matches!(
            contents.get(&key),
            Some(Content::Namespace { .. })
        ))
    }

    async fn update_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<()> {
        Ok(self.do_update_namespace(namespace, properties).await?)
    }

    async fn drop_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<()> {
        Ok(self.do_drop_namespace(namespace).await?)
    }

    async fn list_tables(&self, namespace: &NamespaceIdent) -> iceberg::Result<Vec<TableIdent>> {
        Ok(self.tables_in(namespace).await?)
    }

    async fn create_table(
        &self,
        namespace: &NamespaceIdent,
        creation: TableCreation,
    ) -> iceberg::Result<Table> {
        Ok(self.do_create_table(namespace, creation).await?)
    }

    async fn load_table(&self, table: &TableIdent) -> iceberg::Result<Table> {
        Ok(self.do_load_table(table).await?)
    }

    async fn drop_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        Ok(self.do_drop_table(table).await?)
    }

    async fn purge_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        let loaded = self.do_load_table(table).await?;
        self.do_drop_table(table).await?;
        iceberg::drop_table_data(&loaded).await
    }

    async fn table_exists(&self, table: &TableIdent) -> iceberg::Result<bool> {
        let key = table_key(table);
        let (contents, _) = self.contents(std::slice::from_ref(&key)).await?;
        Ok(matches!(
            contents.get(&key),
            Some(Content::IcebergTable { .. })
        ))
    }

    async fn rename_table(&self, src: &TableIdent, dest: &TableIdent) -> iceberg::Result<()> {
        if src == dest {
            return Ok(());
        }
        Ok(self.do_rename_table(src, dest).await?)
    }

    async fn register_table(
        &self,
        table: &TableIdent,
        metadata_location: String,
    ) -> iceberg::Result<Table> {
        Ok(self.do_register_table(table, metadata_location).await?)
    }

    async fn update_table(&self, commit: TableCommit) -> iceberg::Result<Table> {
        Ok(self.do_update_table(commit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_specs() {
        assert_eq!(parse_ref_spec("main"), ("main".into(), None));
        assert_eq!(
            parse_ref_spec("dev@abcd1234"),
            ("dev".into(), Some("abcd1234".into()))
        );
        assert_eq!(parse_ref_spec("dev@"), ("dev".into(), None));
    }

    #[test]
    fn catalog_without_server_is_cheap_and_redacts() {
        let cat = NessieCatalog::new(NessieConfig {
            uri: "http://127.0.0.1:1/api/v2".into(),
            warehouse: "/tmp/wh".into(),
            token: Some("secret-token".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cat.reference(), "main");
        assert_eq!(cat.warehouse(), "file:///tmp/wh");
        let pinned = cat.with_reference("dev", Some("abcd1234".into()));
        assert_eq!(pinned.pinned_hash(), Some("abcd1234"));
        assert!(!format!("{cat:?}").contains("secret-token"));
    }

    #[test]
    fn writes_refused_on_tags_and_pinned_commits() {
        let cat = NessieCatalog::new(NessieConfig {
            warehouse: "/tmp/wh".into(),
            ..Default::default()
        })
        .unwrap();
        let err = cat.writable("CREATE TABLE a.b", "TAG@abcd").unwrap_err();
        assert!(err.to_string().contains("tags are read-only"), "{err}");
        let pinned = cat.with_reference("main", Some("abcd1234".into()));
        let err = pinned
            .writable("CREATE TABLE a.b", "BRANCH@abcd1234")
            .unwrap_err();
        assert!(err.to_string().contains("read-only"), "{err}");
        assert_eq!(cat.writable("x", "BRANCH@abcd").unwrap(), "abcd");
    }
}
