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

    async fn commit(
        &self,
        expected_hash: &str,
        message: String,
        extra: &[(&str, &str)],
        ops: &[Operation],
    ) -> Result<String, CallError> {
        self.client()
            .commit(
                &self.reference,
                expected_hash,
                self.commit_meta(message, extra),
                ops,
            )
            .await
    }

    /// After a commit whose HTTP call failed: asks Nessie (a few times) whether `key` now holds
    /// what the commit wrote. `None` when Nessie cannot tell us.
    async fn commit_landed(
        &self,
        key: &ContentKey,
        landed: impl Fn(Option<&Content>) -> bool,
    ) -> Option<bool> {
        for delay_ms in [200u64, 1000, 3000] {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            if let Ok(resp) = self
                .client()
                .get_contents(&self.reference, std::slice::from_ref(key))
                .await
            {
                let content = resp
                    .contents
                    .iter()
                    .find(|c| &c.key == key)
                    .map(|c| &c.content);
                return Some(landed(content));
            }
        }
        None
    }

    async fn delete_quietly(&self, location: &str) {
        let _ = self.shared.file_io.delete(location).await;
    }

    /// Finds the newest commit on this branch that changed `key` (after `since`, if given).
    async fn last_change_of(&self, key: &ContentKey, since: Option<&str>) -> Option<LogEntry> {
        let entries = self
            .client()
            .log(&self.reference, 50, since, true)
            .await
            .ok()?;
        entries
            .iter()
            .filter(|e| Some(e.commit_meta.hash.as_deref()) != Some(since))
            .find(|e| {
                e.operations
                    .as_ref()
                    .is_some_and(|ops| ops.iter().any(|o| o.key.as_ref() == Some(key)))
            })
            .map(|e| e.to_log_entry())
    }

    async fn conflict_error(
        &self,
        table: &TableIdent,
        key: &ContentKey,
        since: Option<&str>,
        why: &str,
    ) -> NessieError {
        let detail = match self.last_change_of(key, since).await {
            Some(c) => format!(
                "{why}; it was changed by commit {} (\"{}\" by {}{}). Reload the table and run the statement again",
                short(&c.hash),
                c.message,
                c.author,
                c.commit_time
                    .map(|t| format!(" at {}", t.to_rfc3339()))
                    .unwrap_or_default()
            ),
            None => format!("{why}. Reload the table and run the statement again"),
        };
        NessieError::CommitConflict {
            table: table.to_string(),
            branch: self.reference.clone(),
            detail,
        }
    }

    fn build_table(
        &self,
        ident: TableIdent,
        location: String,
        metadata: TableMetadata,
    ) -> iceberg::Result<Table> {
        Table::builder()
            .file_io(self.shared.file_io.clone())
            .identifier(ident)
            .metadata_location(location)
            .metadata(metadata)
            .runtime(Runtime::try_current()?)
            .build()
    }

    async fn namespaces_at_level(&self, parent: &[String]) -> Vec<String> {
        let filter = format!(
            "entry.contentType == 'NAMESPACE' && size(entry.keyElements) == {}",
            parent.len() + 1
        );
        match self.client().entries(&self.read_ref(), &filter).await {
            Ok(entries) => {
                let mut v: Vec<String> = entries
                    .into_iter()
                    .filter(|e| e.name.elements.starts_with(parent))
                    .map(|e| dotted(&e.name.elements))
                    .collect();
                v.sort();
                v
            }
            Err(_) => vec![],
        }
    }

    async fn namespace_not_found(&self, ns: &NamespaceIdent) -> NessieError {
        let parent: Vec<String> = ns.parent().map(|p| p.inner()).unwrap_or_default();
        NessieError::NamespaceNotFound {
            namespace: dotted(ns),
            reference: self.describe_ref(),
            existing: self.namespaces_at_level(&parent).await,
        }
    }

    async fn table_not_found(&self, t: &TableIdent) -> NessieError {
        let existing = match self.tables_in(t.namespace()).await {
            Ok(tables) => tables.into_iter().map(|t| t.name().to_string()).collect(),
            Err(_) => vec![],
        };
        NessieError::TableNotFound {
            table: t.to_string(),
            namespace: dotted(t.namespace()),
            reference: self.describe_ref(),
            existing,
        }
    }

    async fn tables_in(&self, ns: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        let n = ns.len();
        let filter = format!(
            "(entry.contentType == 'ICEBERG_TABLE' && size(entry.keyElements) == {}) || (entry.contentType == 'NAMESPACE' && size(entry.keyElements) == {n})",
            n + 1
        );
        let entries = match self.client().entries(&self.read_ref(), &filter).await {
            Ok(e) => e,
            Err(e) => return Err(self.fail(e).await),
        };
        let prefix: &[String] = &ns[..];
        let mut ns_found = false;
        let mut tables = vec![];
        for e in entries {
            let el = &e.name.elements;
            if e.kind == "NAMESPACE" && el.as_slice() == prefix {
                ns_found = true;
            } else if e.kind == "ICEBERG_TABLE" && el.len() == n + 1 && el.starts_with(prefix) {
                tables.push(TableIdent::new(ns.clone(), el[n].clone()));
            }
        }
        if !ns_found && tables.is_empty() {
            return Err(self.namespace_not_found(ns).await);
        }
        tables.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(tables)
    }

    fn table_content(id: Option<String>, location: &str, m: &TableMetadata) -> Content {
        Content::IcebergTable {
            id,
            metadata_location: location.to_string(),
            snapshot_id: m.current_snapshot_id().unwrap_or(-1),
            schema_id: m.current_schema_id(),
            spec_id: m.default_partition_spec_id(),
            sort_order_id: m.default_sort_order_id(),
        }
    }

    // --- typed table operations (the iceberg::Catalog impl delegates here) ---------------------

    async fn do_load_table(&self, ident: &TableIdent) -> Result<Table> {
        let key = table_key(ident);
        let (contents, _) = self.contents(std::slice::from_ref(&key)).await?;
        match contents.get(&key) {
            Some(Content::IcebergTable {
                metadata_location, ..
            }) => {
                let metadata =
                    TableMetadata::read_from(&self.shared.file_io, metadata_location).await?;
                Ok(self.build_table(ident.clone(), metadata_location.clone(), metadata)?)
            }
            Some(other) => Err(NessieError::Config(format!(
                "{ident} on {} is a {}, not an Iceberg table",
                self.describe_ref(),
                other.kind_name()
            ))),
            None => Err(self.table_not_found(ident).await),
        }
    }

    async fn do_create_table(
        &self,
        ns: &NamespaceIdent,
        mut creation: TableCreation,
    ) -> Result<Table> {
        // The location below is built from the names: they must not leave the namespace's folder.
        check_namespace(ns)?;
        check_path_name("table", &creation.name).map_err(NessieError::InvalidName)?;
        let ident = TableIdent::new(ns.clone(), creation.name.clone());
        let action = format!("CREATE TABLE {ident}");
        let (nk, tk) = (ns_key(ns), table_key(&ident));
        let (contents, eff) = self.contents(&[nk.clone(), tk.clone()]).await?;
        let head = self.writable(&action, &eff)?;
        if let Some(existing) = contents.get(&tk) {
            return Err(NessieError::AlreadyExists {
                what: format!("table {ident}"),
                reference: self.describe_ref(),
                existing: format!("a {}", existing.kind_name()),
            });
        }
        let ns_props = match contents.get(&nk) {
            Some(Content::Namespace { properties, .. }) => properties.clone(),
            _ => return Err(self.namespace_not_found(ns).await),
        };
        // As Java's NessieCatalog: tables of the same name on different branches are different
        // tables, so each gets its own directory (`name_<uuid>`).
        let unique = format!("{}_{}", ident.name(), uuid::Uuid::new_v4().simple());
        let location = match creation.location.take() {
            Some(l) => l.trim_end_matches('/').to_string(),
            None => match ns_props.get(NAMESPACE_LOCATION) {
                Some(l) => format!("{}/{unique}", l.trim_end_matches('/')),
                None => format!(
                    "{}/{}/{unique}",
                    self.shared.warehouse,
                    ns.as_ref().join("/"),
                ),
            },
        };
        creation.location = Some(location.clone());
        // Java's NessieCatalog defaults: files may still be referenced from other branches,
        // tags and older commits, so Iceberg's own snapshot expiry and metadata clean-up must
        // not delete them (Nessie GC does that). Spark refuses expire_snapshots on such tables.
        for (key, value) in JAVA_TABLE_DEFAULTS {
            creation
                .properties
                .entry(key.to_string())
                .or_insert_with(|| value.to_string());
        }
        let metadata = TableMetadataBuilder::from_table_creation(creation)?
            .build()?
            .metadata;
        let new_ml = MetadataLocation::new_with_metadata(&location, &metadata);
        metadata.write_to(&self.shared.file_io, &new_ml).await?;
        let metadata_location = new_ml.to_string();
        let ops = [Operation::Put {
            key: tk.clone(),
            content: Self::table_content(None, &metadata_location, &metadata),
        }];
        match self.commit(&head, action.clone(), &[], &ops).await {
            Ok(_) => Ok(self.build_table(ident, metadata_location, metadata)?),
            Err(e) => {
                let err = self
                    .after_failed_commit(e, &ident, &tk, &action, &head, &metadata_location)
                    .await;
                match err {
                    None => Ok(self.build_table(ident, metadata_location, metadata)?),
                    Some(err) => Err(err),
                }
            }
        }
    }

    /// Handles a failed table commit that wrote `new_location`. Returns `None` when the commit
    /// turns out to have landed after all.
    async fn after_failed_commit(
        &self,
        e: CallError,
        ident: &TableIdent,
        key: &ContentKey,
        action: &str,
        expected_hash: &str,
        new_location: &str,
    ) -> Option<NessieError> {
        if e.outcome_unknown() {
            let landed = self
                .commit_landed(key, |c| {
                    matches!(c, Some(Content::IcebergTable { metadata_location, .. }) if metadata_location == new_location)
                })
                .await;
            return match landed {
                Some(true) => None,
                Some(false) => {
                    self.delete_quietly(new_location).await;
                    Some(self.client().generic(e))
                }
                None => Some(NessieError::CommitStateUnknown {
                    what: action.to_string(),
                    branch: self.reference.clone(),
                    uri: self.uri().to_string(),
                    detail: match self.client().generic(e) {
                        NessieError::Unreachable { detail, .. } => detail,
                        other => other.to_string(),
                    },
                }),
            };
        }
        self.delete_quietly(new_location).await;
        if e.status() == Some(StatusCode::CONFLICT) {
            let conflicts = match &e {
                CallError::Status { conflicts, .. } => conflicts.clone(),
                _ => vec![],
            };
            let types: Vec<&str> = conflicts
                .iter()
                .filter_map(|c| c.conflict_type.as_deref())
                .collect();
            if types.contains(&"NAMESPACE_ABSENT") {
                return Some(self.namespace_not_found(ident.namespace()).await);
            }
            if types.contains(&"KEY_EXISTS") {
                return Some(NessieError::AlreadyExists {
                    what: format!("table {ident}"),
                    reference: self.describe_ref(),
                    existing: "created by a concurrent commit".to_string(),
                });
            }
            let why = conflicts
                .first()
                .map(|c| c.message.clone())
                .unwrap_or_else(|| "the branch moved".to_string());
            return Some(
                self.conflict_error(ident, key, Some(expected_hash), &why)
                    .await,
            );
        }
        Some(self.fail(e).await)
    }

    async fn do_update_table(&self, mut commit: TableCommit) -> Result<Table> {
        let ident = commit.identifier().clone();
        let requirements: Vec<TableRequirement> = commit.take_requirements();
        let updates: Vec<TableUpdate> = commit.take_updates();
        self.commit_table_updates(ident, requirements, updates)
            .await
    }

    /// Commits `updates` to table `ident` on this catalog's reference when `requirements` hold
    /// for its current metadata: what [`Catalog::update_table`] does for a `TableCommit`, for
    /// callers that build their own updates (iceberg-rust 0.10 lets no code outside it build a
    /// `TableCommit`; the kernel's overwrite, delete and replace commits come this way).
    ///
    /// A concurrent commit to another table of the branch is retried; a concurrent change to
    /// this table that breaks a requirement fails with [`NessieError::CommitConflict`]; a
    /// failure whose outcome cannot be known is [`NessieError::CommitStateUnknown`].
    pub async fn commit_table_updates(
        &self,
        ident: TableIdent,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> Result<Table> {
        let key = table_key(&ident);
        let mut stale_hash: Option<String> = None;
        for attempt in 1..=MAX_COMMIT_ATTEMPTS {
            let (contents, eff) = self.contents(std::slice::from_ref(&key)).await?;
            let head = self.writable(&format!("commit to table {ident}"), &eff)?;
            let (content_id, current_location) = match contents.get(&key) {
                Some(Content::IcebergTable {
                    id,
                    metadata_location,
                    ..
                }) => (id.clone(), metadata_location.clone()),
                _ => return Err(self.table_not_found(&ident).await),
            };
            let current = TableMetadata::read_from(&self.shared.file_io, &current_location).await?;
            if let Some(failed) = requirements
                .iter()
                .find_map(|r| r.check(Some(&current)).err())
            {
                return Err(self
                    .conflict_error(&ident, &key, stale_hash.as_deref(), failed.message())
                    .await);
            }
            let mut builder = current.clone().into_builder(Some(current_location.clone()));
            for update in updates.iter().cloned() {
                builder = update.apply(builder)?;
            }
            let new_metadata = builder.build()?.metadata;
            let new_ml = match MetadataLocation::from_str(&current_location) {
                Ok(l) => l.with_next_version().with_new_metadata(&new_metadata),
                Err(_) => {
                    MetadataLocation::new_with_metadata(new_metadata.location(), &new_metadata)
                }
            };
            new_metadata.write_to(&self.shared.file_io, &new_ml).await?;
            let new_location = new_ml.to_string();

            let (message, operation) = describe_update(&ident, &current, &new_metadata, &updates);
            let extra: Vec<(&str, &str)> = operation
                .iter()
                .map(|op| ("iceberg.operation", op.as_str()))
                .collect();
            let ops = [Operation::Put {
                key: key.clone(),
                content: Self::table_content(content_id, &new_location, &new_metadata),
            }];
            match self.commit(&head, message.clone(), &extra, &ops).await {
                Ok(_) => return Ok(self.build_table(ident, new_location, new_metadata)?),
                Err(e)
                    if e.status() == Some(StatusCode::CONFLICT)
                        && attempt < MAX_COMMIT_ATTEMPTS =>
                {
                    // The table changed after we read it: drop what we wrote, refresh, and
                    // re-check the requirements against the new version.
                    self.delete_quietly(&new_location).await;
                    stale_hash = Some(head);
                }
                Err(e) => {
                    return match self
                        .after_failed_commit(e, &ident, &key, &message, &head, &new_location)
                        .await
                    {
                        None => Ok(self.build_table(ident, new_location, new_metadata)?),
                        Some(err) => Err(err),
                    };
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    async fn do_drop_table(&self, ident: &TableIdent) -> Result<()> {
        let key = table_key(ident);
        let action = format!("DROP TABLE {ident}");
        for attempt in 1..=MAX_COMMIT_ATTEMPTS {
            let (contents, eff) = self.contents(std::slice::from_ref(&key)).await?;
            let head = self.writable(&action, &eff)?;
            if !matches!(contents.get(&key), Some(Content::IcebergTable { .. })) {
                return Err(self.table_not_found(ident).await);
            }
            match self
                .commit(
                    &head,
                    action.clone(),
                    &[],
                    &[Operation::Delete { key: key.clone() }],
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.status() == Some(StatusCode::CONFLICT)
                        && attempt < MAX_COMMIT_ATTEMPTS => {}
                Err(e) if e.outcome_unknown() => {
                    return match self.commit_landed(&key, |c| c.is_none()).await {
                        Some(true) => Ok(()),
                        Some(false) => Err(self.client().generic(e)),
                        None => Err(NessieError::CommitStateUnknown {
                            what: action,
                            branch: self.reference.clone(),
                            uri: self.uri().to_string(),
                            detail: self.client().generic(e).to_string(),
                        }),
                    };
                }
                Err(e) => return Err(self.fail(e).await),
            }
        }
        unreachable!("the last attempt returns")
    }

    async fn do_rename_table(&self, src: &TableIdent, dest: &TableIdent) -> Result<()> {
        // A renamed table keeps its folder; refusing the name here too means no table ever
        // carries a name that CREATE TABLE would refuse (a later CREATE OR REPLACE reuses it).
        check_namespace(dest.namespace())?;
        check_path_name("table", dest.name()).map_err(NessieError::InvalidName)?;
        let action = format!("ALTER TABLE {src} RENAME TO {dest}");
        let (sk, dk, dnk) = (table_key(src), table_key(dest), ns_key(dest.namespace()));
        let (contents, eff) = self
            .contents(&[sk.clone(), dk.clone(), dnk.clone()])
            .await?;
        let head = self.writable(&action, &eff)?;
        let content = match contents.get(&sk) {
            Some(c @ Content::IcebergTable { .. }) => c.clone(),
            _ => return Err(self.table_not_found(src).await),
        };
        if let Some(existing) = contents.get(&dk) {
            return Err(NessieError::AlreadyExists {
                what: format!("table {dest}"),
                reference: self.describe_ref(),
                existing: format!("a {}", existing.kind_name()),
            });
        }
        if !matches!(contents.get(&dnk), Some(Content::Namespace { .. })) {
            return Err(self.namespace_not_found(dest.namespace()).await);
        }
        let ops = [
            Operation::Delete { key: sk },
            Operation::Put { key: dk, content },
        ];
        match self.commit(&head, action, &[], &ops).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => Err(self
                .conflict_error(
                    src,
                    &table_key(src),
                    Some(&head),
                    "the table changed during the rename",
                )
                .await),
            Err(e) => Err(self.fail(e).await),
        }
    }

    async fn do_register_table(
        &self,
        ident: &TableIdent,
        metadata_location: String,
    ) -> Result<Table> {
        let action = format!("REGISTER TABLE {ident}");
        let (nk, tk) = (ns_key(ident.namespace()), table_key(ident));
        let (contents, eff) = self.contents(&[nk.clone(), tk.clone()]).await?;
        let head = self.writable(&action, &eff)?;
        if let Some(existing) = contents.get(&tk) {
            return Err(NessieError::AlreadyExists {
                what: format!("table {ident}"),
                reference: self.describe_ref(),
                existing: format!("a {}", existing.kind_name()),
            });
        }
        if !matches!(contents.get(&nk), Some(Content::Namespace { .. })) {
            return Err(self.namespace_not_found(ident.namespace()).await);
        }
        let metadata = TableMetadata::read_from(&self.shared.file_io, &metadata_location).await?;
        let ops = [Operation::Put {
            key: tk,
            content: Self::table_content(None, &metadata_location, &metadata),
        }];
        match self.commit(&head, action, &[], &ops).await {
            Ok(_) => Ok(self.build_table(ident.clone(), metadata_location, metadata)?),
            Err(e) => Err(self.fail(e).await),
        }
    }

    // --- namespaces ---------------------------------------------------------------------------

    async fn do_list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
    ) -> Result<Vec<NamespaceIdent>> {
        let prefix: Vec<String> = parent.map(|p| p.clone().inner()).unwrap_or_default();
        let n = prefix.len();
        let filter = if n == 0 {
            "entry.contentType == 'NAMESPACE' && size(entry.keyElements) == 1".to_string()
        } else {
            format!(
                "entry.contentType == 'NAMESPACE' && (size(entry.keyElements) == {} || size(entry.keyElements) == {n})",
                n + 1
            )
        };
        let entries = match self.client().entries(&self.read_ref(), &filter).await {
            Ok(e) => e,
            Err(e) => return Err(self.fail(e).await),
        };
        let mut parent_found = n == 0;
        let mut out = vec![];
        for e in entries {
            let el = e.name.elements;
            if el.len() == n && el == prefix {
                parent_found = true;
            } else if el.len() == n + 1 && el.starts_with(&prefix) {
                out.push(NamespaceIdent::from_vec(el)?);
            }
        }
        if !parent_found {
            return Err(self
                .namespace_not_found(&NamespaceIdent::from_vec(prefix)?)
                .await);
        }
        out.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
        Ok(out)
    }

    async fn do_create_namespace(
        &self,
        ns: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<Namespace> {
        check_namespace(ns)?;
        let name = dotted(ns);
        let action = format!("CREATE NAMESPACE {name}");
        let levels: &[String] = &ns[..];
        let keys: Vec<ContentKey> = (1..=levels.len())
            .map(|i| ContentKey {
                elements: levels[..i].to_vec(),
            })
            .collect();
        let (contents, eff) = self.contents(&keys).await?;
        let head = self.writable(&action, &eff)?;
        let own = keys.last().expect("namespace has a level");
        if let Some(existing) = contents.get(own) {
            return Err(NessieError::AlreadyExists {
                what: format!("namespace {name}"),
                reference: self.describe_ref(),
                existing: format!("a {}", existing.kind_name()),
            });
        }
        let ops: Vec<Operation> = keys
            .iter()
            .filter(|k| !contents.contains_key(*k))
            .map(|k| Operation::Put {
                key: k.clone(),
                content: Content::Namespace {
                    id: None,
                    elements: k.elements.clone(),
                    properties: if k == own {
                        properties.clone()
                    } else {
                        HashMap::new()
                    },
                },
            })
            .collect();
        match self.commit(&head, action, &[], &ops).await {
            Ok(_) => Ok(Namespace::with_properties(ns.clone(), properties)),
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => Err(NessieError::AlreadyExists {
                what: format!("namespace {name}"),
                reference: self.describe_ref(),
                existing: "created by a concurrent commit".to_string(),
            }),
            Err(e) => Err(self.fail(e).await),
        }
    }

    async fn namespace_content(
        &self,
        ns: &NamespaceIdent,
    ) -> Result<(Option<String>, HashMap<String, String>, String)> {
        let key = ns_key(ns);
        let (contents, eff) = self.contents(std::slice::from_ref(&key)).await?;
        match contents.get(&key) {
            Some(Content::Namespace { id, properties, .. }) => {
                Ok((id.clone(), properties.clone(), eff))
            }
            _ => Err(self.namespace_not_found(ns).await),
        }
    }

    async fn do_update_namespace(
        &self,
        ns: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<()> {
        let name = dotted(ns);
        let action = format!("ALTER NAMESPACE {name} SET PROPERTIES");
        for attempt in 1..=MAX_COMMIT_ATTEMPTS {
            let (id, _, eff) = self.namespace_content(ns).await?;
            let head = self.writable(&action, &eff)?;
            let ops = [Operation::Put {
                key: ns_key(ns),
                content: Content::Namespace {
                    id,
                    elements: ns.clone().inner(),
                    properties: properties.clone(),
                },
            }];
            match self.commit(&head, action.clone(), &[], &ops).await {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.status() == Some(StatusCode::CONFLICT)
                        && attempt < MAX_COMMIT_ATTEMPTS => {}
                Err(e) => return Err(self.fail(e).await),
            }
        }
        unreachable!("the last attempt returns")
    }

    async fn do_drop_namespace(&self, ns: &NamespaceIdent) -> Result<()> {
        let name = dotted(ns);
        let action = format!("DROP NAMESPACE {name}");
        let (_, _, eff) = self.namespace_content(ns).await?;
        let head = self.writable(&action, &eff)?;
        match self
            .commit(&head, action, &[], &[Operation::Delete { key: ns_key(ns) }])
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
                let n = ns.len();
                let filter = format!("size(entry.keyElements) > {n}");
                let prefix: &[String] = &ns[..];
                let contents = match self.client().entries(&self.reference, &filter).await {
                    Ok(entries) => {
                        let mut v: Vec<String> = entries
                            .into_iter()
                            .filter(|e| e.name.elements.starts_with(prefix))
                            .map(|e| dotted(&e.name.elements))
                            .collect();
                        v.sort();
                        v
                    }
                    Err(_) => vec![],
                };
                Err(NessieError::NamespaceNotEmpty {
                    namespace: name,
                    reference: self.describe_ref(),
                    contents,
                })
            }
            Err(e) => Err(self.fail(e).await),
        }
    }
}

/// The commit message (what was done, in SQL terms) and the snapshot operation, if any.
fn describe_update(
    ident: &TableIdent,
    before: &TableMetadata,
    after: &TableMetadata,
    updates: &[TableUpdate],
) -> (String, Option<SnapshotOperation>) {
    if after.current_snapshot_id() != before.current_snapshot_id() {
        if let Some(snapshot) = after.current_snapshot() {
            let op = snapshot.summary().operation.clone();
            let verb = match op {
                SnapshotOperation::Append => format!("INSERT INTO {ident}"),
                SnapshotOperation::Overwrite => format!("INSERT OVERWRITE {ident}"),
                SnapshotOperation::Delete => format!("DELETE FROM {ident}"),
                SnapshotOperation::Replace => format!("REWRITE TABLE {ident}"),
            };
            return (verb, Some(op));
        }
        return (format!("ALTER TABLE {ident} (set current snapshot)"), None);
    }
    if after.current_schema_id() != before.current_schema_id() {
        return (format!("ALTER TABLE {ident} (schema change)"), None);
    }
    if updates
        .iter()
        .any(|u| matches!(u, TableUpdate::RemoveSnapshots { .. }))
    {
        return (format!("ALTER TABLE {ident} (expire snapshots)"), None);
    }
    if after.properties() != before.properties() {
        return (format!("ALTER TABLE {ident} SET TBLPROPERTIES"), None);
    }
    (format!("ALTER TABLE {ident}"), None)
}

// --- reference operations -----------------------------------------------------------------------

impl NessieCatalog {
    /// All branches and tags.
    pub async fn list_references(&self) -> Result<Vec<Reference>> {
        let mut refs = self
            .client()
            .list_references()
            .await
            .map_err(|e| self.client().generic(e))?;
        refs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(refs)
    }

    /// One branch or tag; an unknown name lists the existing ones.
    pub async fn get_reference(&self, name: &str) -> Result<Reference> {
        match self.client().get_reference(name).await {
            Ok(r) => r
                .into_reference()
                .ok_or_else(|| NessieError::Config(format!("'{name}' is not a branch or tag"))),
            Err(e) if e.is_reference_not_found() || e.status() == Some(StatusCode::NOT_FOUND) => {
                Err(self.reference_not_found(name).await)
            }
            Err(e) => Err(self.client().generic(e)),
        }
    }

    /// Resolves `name`, `name@hash` or a relative spec such as `name@*1737021600000` (the
    /// commit that was HEAD at that time, epoch milliseconds; see [`at_time`]) to a concrete
    /// commit. `None` means this catalog's reference.
    pub async fn resolve(&self, spec: Option<&str>) -> Result<Reference> {
        let (name, hash) = match spec {
            Some(s) => parse_ref_spec(s),
            None => (self.reference.clone(), self.hash.clone()),
        };
        let mut r = self.get_reference(&name).await?;
        match hash {
            Some(h) if h.contains(['*', '~', '^']) => {
                // Nessie resolves relative parts on read: ask for any key and keep the
                // effective reference it answers with.
                let probe = [ContentKey {
                    elements: vec!["lakehouse-kernel-resolve".to_string()],
                }];
                let pinned = self.with_reference(&name, Some(h.clone()));
                match self
                    .client()
                    .get_contents(&ref_path(&name, Some(&h)), &probe)
                    .await
                {
                    Ok(resp) => {
                        r.hash = resp
                            .effective_reference
                            .and_then(|e| e.hash)
                            .unwrap_or_default()
                    }
                    Err(e) => return Err(pinned.fail(e).await),
                }
            }
            Some(h) => r.hash = h,
            None => {}
        }
        Ok(r)
    }

    /// Creates branch or tag `name` at `from` (`ref` or `ref@hash`; default: this catalog's
    /// reference and commit).
    pub async fn create_reference(
        &self,
        name: &str,
        kind: RefKind,
        from: Option<&str>,
    ) -> Result<Reference> {
        let source = self.resolve(from).await?;
        match self
            .client()
            .create_reference(name, kind, &RawReference::from_reference(&source))
            .await
        {
            Ok(r) => r.into_reference().ok_or_else(|| {
                NessieError::Config(format!(
                    "Nessie returned an unexpected reference for '{name}'"
                ))
            }),
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
                let existing = match self.client().get_reference(name).await {
                    Ok(r) => r
                        .into_reference()
                        .map(|r| r.to_string())
                        .unwrap_or_default(),
                    Err(_) => String::new(),
                };
                Err(NessieError::ReferenceAlreadyExists {
                    name: name.to_string(),
                    existing,
                })
            }
            Err(e) if e.is_reference_not_found() => {
                Err(self.reference_not_found(&source.name).await)
            }
            Err(e) => Err(self.client().generic(e)),
        }
    }

    /// Deletes a branch or tag (at its current HEAD).
    pub async fn delete_reference(&self, name: &str) -> Result<()> {
        let r = self.get_reference(name).await?;
        self.client()
            .delete_reference(&r)
            .await
            .map_err(|e| self.client().generic(e))
    }

    /// Points branch or tag `name` at `to` (`ref` or `ref@hash`).
    pub async fn assign_reference(&self, name: &str, to: &str) -> Result<Reference> {
        let current = self.get_reference(name).await?;
        let target = self.resolve(Some(to)).await?;
        let r = self
            .client()
            .assign_reference(&current, &RawReference::from_reference(&target))
            .await
            .map_err(|e| self.client().generic(e))?;
        r.into_reference().ok_or_else(|| {
            NessieError::Config(format!(
                "Nessie returned an unexpected reference for '{name}'"
            ))
        })
    }

    /// Merges the HEAD of `from` into branch `into`. Conflicting keys (changed on both sides)
    /// fail the merge with [`NessieError::MergeConflict`] and leave `into` unchanged.
    pub async fn merge(&self, from: &str, into: &str) -> Result<MergeOutcome> {
        let source = self.resolve(Some(from)).await?;
        for attempt in 1..=MAX_COMMIT_ATTEMPTS {
            let target = self.get_reference(into).await?;
            if target.kind != RefKind::Branch {
                return Err(NessieError::ReadOnlyReference {
                    action: format!("merge {from}"),
                    reference: format!("tag '{into}'"),
                    reason: "only branches can be merged into".to_string(),
                });
            }
            let message = format!("MERGE BRANCH {} INTO {}", source.name, target.name);
            match self.client().merge(&target, &source, message).await {
                Ok(resp) => {
                    let hash = match resp.resultant_target_hash {
                        Some(h) => h,
                        None => self.get_reference(into).await?.hash,
                    };
                    return Ok(MergeOutcome {
                        target: Reference { hash, ..target },
                        merged_hash: source.hash.clone(),
                    });
                }
                Err(CallError::Status {
                    status, conflicts, ..
                }) if status == StatusCode::CONFLICT && !conflicts.is_empty() => {
                    let mut keys: Vec<String> = conflicts
                        .iter()
                        .map(|c| match &c.key {
                            Some(k) => k.to_string(),
                            None => c.message.clone(),
                        })
                        .collect();
                    keys.sort();
                    keys.dedup();
                    return Err(NessieError::MergeConflict {
                        from: from.to_string(),
                        into: into.to_string(),
                        keys,
                    });
                }
                // The target moved between reading its HEAD and merging: read it again.
                Err(e)
                    if e.status() == Some(StatusCode::CONFLICT)
                        && attempt < MAX_COMMIT_ATTEMPTS => {}
                Err(e) => return Err(self.client().generic(e)),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// The newest `limit` commits of `reference` (`name` or `name@hash`; default: this
    /// catalog's reference), newest first.
    pub async fn log(&self, reference: Option<&str>, limit: usize) -> Result<Vec<LogEntry>> {
        let spec = match reference {
            Some(r) => r.to_string(),
            None => self.read_ref(),
        };
        match self.client().log(&spec, limit, None, false).await {
            Ok(entries) => Ok(entries.iter().map(RawLogEntry::to_log_entry).collect()),
            Err(e) if e.is_reference_not_found() => {
                let (name, _) = parse_ref_spec(&spec);
                Err(self.reference_not_found(&name).await)
            }
            Err(e) => Err(self.client().generic(e)),
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
