//! The subset of Nessie's REST API v2 JSON model this crate uses.
//!
//! Field names follow Nessie's OpenAPI spec (served at `/nessie-openapi/openapi.yaml`);
//! unknown fields are ignored so newer servers stay readable.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Whether a reference is a branch (movable by commits) or a tag (a named, fixed commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RefKind {
    /// A branch: commits move its HEAD.
    Branch,
    /// A tag: points at one commit; the catalog refuses to write on it.
    Tag,
}

impl RefKind {
    pub(crate) fn as_api_str(self) -> &'static str {
        match self {
            RefKind::Branch => "BRANCH",
            RefKind::Tag => "TAG",
        }
    }
}

impl std::fmt::Display for RefKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RefKind::Branch => "branch",
            RefKind::Tag => "tag",
        })
    }
}

/// A named Nessie reference and the commit it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Branch or tag name.
    pub name: String,
    /// Branch or tag.
    pub kind: RefKind,
    /// The commit hash the reference points at.
    pub hash: String,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}@{}", self.kind, self.name, short(&self.hash))
    }
}

/// First 12 characters of a commit hash, for messages.
pub(crate) fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// One commit of a reference's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Commit hash.
    pub hash: String,
    /// First author (Nessie allows several), or the committer when no author was given.
    pub author: String,
    /// Commit time (server clock).
    pub commit_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Commit message.
    pub message: String,
    /// Commit properties (first value of each).
    pub properties: HashMap<String, String>,
}

/// What commits record beyond their message: who made them and extra properties (the
/// kernel's lineage: notebook, git commit, cell, ...). Extra properties never replace the
/// catalog's own (`application-type`, `iceberg.operation`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitExtra {
    /// The commit's author; the catalog's configured author when `None`.
    pub author: Option<String>,
    /// Extra commit properties.
    pub properties: Vec<(String, String)>,
}

/// The outcome of a successful merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOutcome {
    /// The target branch after the merge.
    pub target: Reference,
    /// The source commit that was merged.
    pub merged_hash: String,
}

// ---------------------------------------------------------------------------------------------
// Wire types (crate-private).

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RawReference {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

impl RawReference {
    pub(crate) fn into_reference(self) -> Option<Reference> {
        let kind = match self.kind.as_str() {
            "BRANCH" => RefKind::Branch,
            "TAG" => RefKind::Tag,
            _ => return None,
        };
        Some(Reference {
            name: self.name?,
            kind,
            hash: self.hash.unwrap_or_default(),
        })
    }

    pub(crate) fn from_reference(r: &Reference) -> Self {
        RawReference {
            kind: r.kind.as_api_str().to_string(),
            name: Some(r.name.clone()),
            hash: Some(r.hash.clone()),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReferencesResponse {
    #[serde(default)]
    pub references: Vec<RawReference>,
    #[serde(default, rename = "hasMore")]
    pub has_more: bool,
    #[serde(default)]
    pub token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SingleReferenceResponse {
    pub reference: RawReference,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct ContentKey {
    pub elements: Vec<String>,
}

impl std::fmt::Display for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.elements.join("."))
    }
}

/// Content stored under a key. Only the kinds this catalog reads or writes are typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub(crate) enum Content {
    #[serde(rename = "ICEBERG_TABLE", rename_all = "camelCase")]
    IcebergTable {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        metadata_location: String,
        #[serde(default = "minus_one")]
        snapshot_id: i64,
        #[serde(default)]
        schema_id: i32,
        #[serde(default)]
        spec_id: i32,
        #[serde(default)]
        sort_order_id: i64,
    },
    #[serde(rename = "NAMESPACE")]
    Namespace {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        elements: Vec<String>,
        #[serde(default)]
        properties: HashMap<String, String>,
    },
    #[serde(other)]
    Other,
}

fn minus_one() -> i64 {
    -1
}

impl Content {
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Content::IcebergTable { .. } => "Iceberg table",
            Content::Namespace { .. } => "namespace",
            Content::Other => "non-Iceberg content",
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct GetContentsRequest<'a> {
    #[serde(rename = "requestedKeys")]
    pub requested_keys: &'a [ContentKey],
}

#[derive(Debug, Deserialize)]
pub(crate) struct ContentWithKey {
    pub key: ContentKey,
    pub content: Content,
}

#[derive(Debug, Deserialize)]
pub(crate) struct GetContentsResponse {
    #[serde(default)]
    pub contents: Vec<ContentWithKey>,
    #[serde(default, rename = "effectiveReference")]
    pub effective_reference: Option<RawReference>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Entry {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub name: ContentKey,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EntriesResponse {
    #[serde(default)]
    pub entries: Vec<Entry>,
    #[serde(default, rename = "hasMore")]
    pub has_more: bool,
    #[serde(default)]
    pub token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub(crate) enum Operation {
    #[serde(rename = "PUT")]
    Put { key: ContentKey, content: Content },
    #[serde(rename = "DELETE")]
    Delete { key: ContentKey },
}

#[derive(Debug, Serialize)]
pub(crate) struct CommitMetaRequest {
    pub message: String,
    pub authors: Vec<String>,
    #[serde(rename = "allProperties")]
    pub all_properties: HashMap<String, Vec<String>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CommitRequest<'a> {
    #[serde(rename = "commitMeta")]
    pub commit_meta: CommitMetaRequest,
    pub operations: &'a [Operation],
}

#[derive(Debug, Deserialize)]
pub(crate) struct CommitResponse {
    #[serde(rename = "targetBranch")]
    pub target_branch: RawReference,
}

#[derive(Debug, Serialize)]
pub(crate) struct MergeRequest<'a> {
    #[serde(rename = "fromRefName")]
    pub from_ref_name: &'a str,
    #[serde(rename = "fromHash")]
    pub from_hash: &'a str,
    /// Read by servers older than `commitMeta` on merges; newer ones take the message there.
    pub message: String,
    /// The merge commit's author and properties (the kernel's lineage), like a commit's.
    #[serde(rename = "commitMeta")]
    pub commit_meta: CommitMetaRequest,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MergeResponse {
    #[serde(default, rename = "resultantTargetHash")]
    pub resultant_target_hash: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawCommitMeta {
    #[serde(default)]
    pub hash: Option<String>,
    #[serde(default)]
    pub committer: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub message: String,
    // A string, parsed below: chrono's serde feature is not in the shared build.
    #[serde(default, rename = "commitTime")]
    pub commit_time: Option<String>,
    #[serde(default, rename = "allProperties")]
    pub all_properties: HashMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawOperation {
    #[serde(default)]
    pub key: Option<ContentKey>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawLogEntry {
    #[serde(rename = "commitMeta")]
    pub commit_meta: RawCommitMeta,
    #[serde(default)]
    pub operations: Option<Vec<RawOperation>>,
}

impl RawLogEntry {
    pub(crate) fn to_log_entry(&self) -> LogEntry {
        let m = &self.commit_meta;
        LogEntry {
            hash: m.hash.clone().unwrap_or_default(),
            author: m
                .authors
                .first()
                .cloned()
                .or_else(|| m.committer.clone())
                .unwrap_or_default(),
            commit_time: m
                .commit_time
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
            message: m.message.clone(),
            properties: m
                .all_properties
                .iter()
                .filter_map(|(k, v)| v.first().map(|v| (k.clone(), v.clone())))
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct LogResponse {
    #[serde(default, rename = "logEntries")]
    pub log_entries: Vec<RawLogEntry>,
    #[serde(default, rename = "hasMore")]
    pub has_more: bool,
    #[serde(default)]
    pub token: Option<String>,
}

/// Nessie's error body.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "errorCode")]
    pub error_code: Option<String>,
    #[serde(default, rename = "errorDetails")]
    pub error_details: Option<ErrorDetails>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorDetails {
    #[serde(default)]
    pub conflicts: Vec<Conflict>,
}

/// One per-key conflict reported by Nessie on a commit or merge.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Conflict {
    #[serde(default, rename = "conflictType")]
    pub conflict_type: Option<String>,
    #[serde(default)]
    pub key: Option<ContentKey>,
    #[serde(default)]
    pub message: String,
}
