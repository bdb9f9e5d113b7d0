//! A small typed client for the Nessie REST API v2 (only what the catalog needs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{NessieError, Result};
use crate::model::*;

/// A failed call, before the catalog adds the object it was about.
#[derive(Debug)]
pub(crate) enum CallError {
    /// Connection-level failure: the server did not answer.
    Transport(String),
    /// The server answered with an error status.
    Status {
        status: StatusCode,
        code: Option<String>,
        message: String,
        conflicts: Vec<Conflict>,
        request: String,
    },
}

impl CallError {
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            CallError::Status { code, .. } => code.as_deref(),
            CallError::Transport(_) => None,
        }
    }

    pub(crate) fn status(&self) -> Option<StatusCode> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            CallError::Transport(_) => None,
        }
    }

    pub(crate) fn is_reference_not_found(&self) -> bool {
        self.code() == Some("REFERENCE_NOT_FOUND")
    }

    /// True when the request may or may not have been executed (network failure, 5xx).
    pub(crate) fn outcome_unknown(&self) -> bool {
        match self {
            CallError::Transport(_) => true,
            CallError::Status { status, .. } => status.is_server_error(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct NessieClient {
    http: reqwest::Client,
    base: Url,
    uri: String,
    token: Option<String>,
    requests: Arc<AtomicU64>,
}

impl std::fmt::Debug for NessieClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NessieClient")
            .field("uri", &self.uri)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Path segment for a reference, optionally pinned to a hash (`name@hash`).
pub(crate) fn ref_path(name: &str, hash: Option<&str>) -> String {
    match hash {
        Some(h) => format!("{name}@{h}"),
        None => name.to_string(),
    }
}

impl NessieClient {
    pub(crate) fn new(uri: &str, token: Option<String>) -> Result<Self> {
        let trimmed = uri.trim_end_matches('/');
        let base = Url::parse(&format!("{trimmed}/")).map_err(|e| {
            NessieError::Config(format!(
                "NESSIE_URI '{uri}' is not a valid URL ({e}); expected e.g. http://localhost:19120/api/v2"
            ))
        })?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(NessieError::Config(format!(
                "NESSIE_URI '{uri}' must be an http(s) URL such as http://localhost:19120/api/v2"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| NessieError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(NessieClient {
            http,
            base,
            uri: trimmed.to_string(),
            token,
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    /// HTTP requests sent so far by this client (shared by its clones).
    pub(crate) fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().expect("checked in new()");
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        url
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<T, CallError> {
        let url = self.url(segments, query);
        let request = format!("{method} /{}", segments.join("/"));
        let mut rb = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json")
            // Without this Nessie leaves out `errorDetails` (the per-key conflicts) on 409s.
            .header("Nessie-Client-Spec", "2");
        if let Some(token) = &self.token {
            rb = rb.bearer_auth(token);
        }
        if let Some(body) = body {
            rb = rb
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = rb
            .send()
            .await
            .map_err(|e| CallError::Transport(describe_reqwest(&e)))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| CallError::Transport(describe_reqwest(&e)))?;
        if status.is_success() {
            let slice: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(slice).map_err(|e| CallError::Status {
                status,
                code: None,
                message: format!("unexpected response body ({e})"),
                conflicts: vec![],
                request,
            });
        }
        let body: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorBody {
            message: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
            ..Default::default()
        });
        Err(CallError::Status {
            status,
            code: body.error_code,
            message: body.message,
            conflicts: body.error_details.map(|d| d.conflicts).unwrap_or_default(),
            request,
        })
    }

    /// Turns a call error into a user-facing error when no more specific mapping applies.
    pub(crate) fn generic(&self, e: CallError) -> NessieError {
        match e {
            CallError::Transport(detail) => NessieError::Unreachable {
                uri: self.uri.clone(),
                detail,
            },
            CallError::Status {
                status, message, ..
            } if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN => {
                NessieError::Unauthorized {
                    uri: self.uri.clone(),
                    status: status.as_u16(),
                    message,
                }
            }
            CallError::Status {
                status,
                code,
                message,
                request,
                ..
            } => NessieError::Api {
                uri: self.uri.clone(),
                request,
                status: status.as_u16(),
                code,
                message,
            },
        }
    }

    fn json<B: Serialize>(body: &B) -> Vec<u8> {
        serde_json::to_vec(body).expect("request types always serialize")
    }

    // --- references -----------------------------------------------------------------------

    pub(crate) async fn list_references(&self) -> Result<Vec<Reference>, CallError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![];
            if let Some(t) = &token {
                query.push(("page-token", t.as_str()));
            }
            let page: ReferencesResponse = self.call(Method::GET, &["trees"], &query, None).await?;
            out.extend(
                page.references
                    .into_iter()
                    .filter_map(RawReference::into_reference),
            );
            match (page.has_more, page.token) {
                (true, Some(t)) => token = Some(t),
                _ => break,
            }
        }
        Ok(out)
    }

    pub(crate) async fn get_reference(&self, name: &str) -> Result<RawReference, CallError> {
        let r: SingleReferenceResponse =
            self.call(Method::GET, &["trees", name], &[], None).await?;
        Ok(r.reference)
    }

    pub(crate) async fn create_reference(
        &self,
        name: &str,
        kind: RefKind,
        source: &RawReference,
    ) -> Result<RawReference, CallError> {
        let r: SingleReferenceResponse = self
            .call(
                Method::POST,
                &["trees"],
                &[("name", name), ("type", kind.as_api_str())],
                Some(Self::json(source)),
            )
            .await?;
        Ok(r.reference)
    }

    pub(crate) async fn delete_reference(&self, r: &Reference) -> Result<(), CallError> {
        let _: serde_json::Value = self
            .call(
                Method::DELETE,
                &["trees", &ref_path(&r.name, Some(&r.hash))],
                &[("type", r.kind.as_api_str())],
                None,
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn assign_reference(
        &self,
        r: &Reference,
        to: &RawReference,
    ) -> Result<RawReference, CallError> {
        let resp: SingleReferenceResponse = self
            .call(
                Method::PUT,
                &["trees", &ref_path(&r.name, Some(&r.hash))],
                &[("type", r.kind.as_api_str())],
                Some(Self::json(to)),
            )
            .await?;
        Ok(resp.reference)
    }

    pub(crate) async fn merge(
        &self,
        into: &Reference,
        from: &Reference,
        meta: CommitMetaRequest,
    ) -> Result<MergeResponse, CallError> {
        let body = MergeRequest {
            from_ref_name: &from.name,
            from_hash: &from.hash,
            message: meta.message.clone(),
            commit_meta: meta,
        };
        self.call(
            Method::POST,
            &[
                "trees",
                &ref_path(&into.name, Some(&into.hash)),
                "history",
                "merge",
            ],
            &[],
            Some(Self::json(&body)),
        )
        .await
    }

    /// History of `reference` (a `name` or `name@hash`), newest first.
    /// `until_hash` stops at (and includes) that commit; `with_operations` adds the keys touched.
    pub(crate) async fn log(
        &self,
        reference: &str,
        limit: usize,
        until_hash: Option<&str>,
        with_operations: bool,
    ) -> Result<Vec<RawLogEntry>, CallError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let max = limit.min(1000).to_string();
        while out.len() < limit {
            let mut query = vec![("max-records", max.as_str())];
            if let Some(h) = until_hash {
                query.push(("limit-hash", h));
            }
            if with_operations {
                query.push(("fetch", "ALL"));
            }
            if let Some(t) = &token {
                query.push(("page-token", t.as_str()));
            }
            let page: LogResponse = self
                .call(Method::GET, &["trees", reference, "history"], &query, None)
                .await?;
            out.extend(page.log_entries);
            match (page.has_more, page.token) {
                (true, Some(t)) => token = Some(t),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    // --- contents -------------------------------------------------------------------------

    /// Contents of `keys` on `reference` (`name` or `name@hash`) in one call; absent keys are
    /// simply missing from the answer.
    pub(crate) async fn get_contents(
        &self,
        reference: &str,
        keys: &[ContentKey],
    ) -> Result<GetContentsResponse, CallError> {
        self.call(
            Method::POST,
            &["trees", reference, "contents"],
            &[],
            Some(Self::json(&GetContentsRequest {
                requested_keys: keys,
            })),
        )
        .await
    }

    /// Every entry on `reference` matching a CEL `filter`.
    pub(crate) async fn entries(
        &self,
        reference: &str,
        filter: &str,
    ) -> Result<Vec<Entry>, CallError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("filter", filter)];
            if let Some(t) = &token {
                query.push(("page-token", t.as_str()));
            }
            let page: EntriesResponse = self
                .call(Method::GET, &["trees", reference, "entries"], &query, None)
                .await?;
            out.extend(page.entries);
            match (page.has_more, page.token) {
                (true, Some(t)) => token = Some(t),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Commits `operations` on `branch` expecting its HEAD at `expected_hash`; returns the new HEAD.
    pub(crate) async fn commit(
        &self,
        branch: &str,
        expected_hash: &str,
        meta: CommitMetaRequest,
        operations: &[Operation],
    ) -> Result<String, CallError> {
        let body = CommitRequest {
            commit_meta: meta,
            operations,
        };
        let resp: CommitResponse = self
            .call(
                Method::POST,
                &[
                    "trees",
                    &ref_path(branch, Some(expected_hash)),
                    "history",
                    "commit",
                ],
                &[],
                Some(Self::json(&body)),
            )
            .await?;
        Ok(resp.target_branch.hash.unwrap_or_default())
    }
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_timeout() {
        "request timed out".to_string()
    } else {
        e.to_string()
    };
    let mut src = e.source();
    while let Some(s) = src {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        src = s.source();
    }
    text
}
