//! Any Iceberg REST catalog server, through iceberg-rust's REST client.
//!
//! The client is lazy: nothing is contacted until the first catalog call, which fetches the
//! server's `/v1/config` (and an OAuth2 token when a credential is set); a failed first call
//! is tried again on the next one. [`RestCatalog`] wraps the client so that a server that
//! cannot be reached, or that refuses the credentials, produces an error naming the address
//! and the setting to fix rather than a bare HTTP error.
//!
//! On Nessie, commits are also fenced by the Nessie commit their base was loaded at (see
//! [`RestCatalog::update_table`]): Nessie 0.99 ignores `assert-ref-snapshot-id` with a null
//! snapshot id (projectnessie/nessie#10062), so two racing first appends could both win.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use iceberg::table::Table;
use iceberg::{
    Catalog, CatalogBuilder, Error, Namespace, NamespaceIdent, Result, TableCommit, TableCreation,
    TableIdent,
};
use iceberg_catalog_rest::{
    RestCatalogBuilder, REST_CATALOG_PROP_URI, REST_CATALOG_PROP_WAREHOUSE,
};
use iceberg_storage_opendal::OpenDalResolvingStorageFactory;

use super::CATALOG_NAME;
use crate::error::{CellError, ErrorKind};
use crate::settings::{RestSettings, Settings};

/// The properties handed to iceberg-rust's REST catalog builder.
///
/// S3 settings the user gave (`AWS_*`, `LAKEHOUSE_S3_PATH_STYLE`) go to the tables' FileIO
/// too; iceberg-rust lets them win over what the server's table config says, so the kernel
/// can read and write data files itself when the server vends no credentials.
pub fn rest_props(rest: &RestSettings, settings: &Settings) -> HashMap<String, String> {
    let mut props = settings.s3.file_io_props_set();
    props.insert(REST_CATALOG_PROP_URI.into(), rest.uri.clone());
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            props.insert(k.to_string(), v.clone());
        }
    };
    put(REST_CATALOG_PROP_WAREHOUSE, &rest.warehouse);
    put("token", &rest.token);
    put("credential", &rest.credential);
    put("oauth2-server-uri", &rest.oauth2_server_uri);
    put("scope", &rest.scope);
    props
}

/// Builds the REST catalog for `rest`. Contacts nothing (see the module docs).
pub async fn open_rest(
    rest: &RestSettings,
    settings: &Settings,
) -> std::result::Result<RestCatalog, CellError> {
    let client = http_client().map_err(|m| ErrorKind::Catalog.error(m))?;
    let props = rest_props(rest, settings);
    let inner = build_client(client.clone(), props.clone())
        .await
        .map_err(|e| {
            ErrorKind::Catalog.error(format!(
                "cannot set up the Iceberg REST catalog at {}: {e}. Check LAKEHOUSE_REST_URI",
                rest.uri
            ))
        })?;
    Ok(RestCatalog {
        inner,
        uri: rest.uri.clone(),
        warehouse: rest.warehouse.clone(),
        client,
        props,
        loaded_at: Mutex::new(HashMap::new()),
    })
}

async fn build_client(
    client: reqwest_rest::Client,
    props: HashMap<String, String>,
) -> Result<iceberg_catalog_rest::RestCatalog> {
    RestCatalogBuilder::default()
        .with_client(client)
        .with_storage_factory(Arc::new(OpenDalResolvingStorageFactory::new()))
        .load(CATALOG_NAME, props)
        .await
}

/// Nessie's catalog prefix `{ref}@{hash}|{warehouse}`, URL-encoded as its `/v1/config` sends
/// prefixes: a commit sent there is refused (409) when the table changed after `hash`.
fn fenced_prefix(reference: &str, hash: &str, warehouse: &str) -> String {
    let raw = format!("{reference}@{hash}|{warehouse}");
    let mut out = String::with_capacity(raw.len() + 8);
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The HTTP client for the REST catalog: rustls with the system's root certificates (as
/// rustls-native-certs finds them, so `SSL_CERT_FILE` and `SSL_CERT_DIR` work), so that
/// `https://` servers work; iceberg-rust's own default client has no TLS in this build.
fn http_client() -> std::result::Result<reqwest_rest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        log::warn!(
            "no trusted root certificates found ({:?}): https:// REST catalogs will be refused; \
             set SSL_CERT_FILE to a PEM bundle",
            found.errors
        );
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS for the Iceberg REST catalog: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest_rest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .map_err(|e| format!("cannot set up the HTTP client for the Iceberg REST catalog: {e}"))
}

/// iceberg-rust's REST catalog, with errors that say which server and which setting.
#[derive(Debug)]
pub struct RestCatalog {
    inner: iceberg_catalog_rest::RestCatalog,
    uri: String,
    warehouse: Option<String>,
    client: reqwest_rest::Client,
    props: HashMap<String, String>,
    /// Per table on a Nessie server: the Nessie reference and commit its latest load saw
    /// (table properties `nessie.commit.ref`, `nessie.commit.id`).
    loaded_at: Mutex<HashMap<TableIdent, (String, String)>>,
}

impl RestCatalog {
    /// Remembers the Nessie commit `table` was loaded at, when the server is Nessie.
    fn remember(&self, table: &Table) {
        let props = table.metadata().properties();
        if let (Some(r), Some(hash)) = (
            props.get("nessie.commit.ref"),
            props.get("nessie.commit.id"),
        ) {
            if let Ok(mut map) = self.loaded_at.lock() {
                map.insert(table.identifier().clone(), (r.clone(), hash.clone()));
            }
        }
    }

    /// Adds the server address and the setting to fix to transport and authentication
    /// failures; other errors (not found, conflicts, …) pass through unchanged.
    fn explain(&self, e: Error) -> Error {
        let text = e.to_string();
        let hint = if e.message() == "Failed to execute http request" {
            // The reason (refused, timed out, certificate) is at the end of the source chain,
            // which iceberg's Display leaves out.
            let cause = root_cause(&e).unwrap_or_default();
            if cause.to_ascii_lowercase().contains("certificate") {
                format!(
                    "cannot reach the Iceberg REST catalog at {} ({cause}): its TLS certificate \
                     is not trusted; add its CA to the system's trust store or point \
                     SSL_CERT_FILE at a PEM bundle that has it",
                    self.uri
                )
            } else {
                format!(
                    "cannot reach the Iceberg REST catalog at {} ({cause}): check \
                     LAKEHOUSE_REST_URI and that the server is running",
                    self.uri
                )
            }
        } else if text.contains("Warehouse '") && text.contains("is not known") {
            // Nessie's answer to /v1/config?warehouse=NAME for a name it has not configured.
            format!(
                "the Iceberg REST catalog at {} does not know warehouse {}: check \
                 LAKEHOUSE_REST_WAREHOUSE (for Nessie: a name under nessie.catalog.warehouses)",
                self.uri,
                self.warehouse.as_deref().unwrap_or("(not set)")
            )
        } else if text.contains("operation: auth") {
            format!(
                "the OAuth2 token request for the Iceberg REST catalog at {} failed: check \
                 LAKEHOUSE_REST_CREDENTIAL (client_id:secret), LAKEHOUSE_REST_OAUTH2_SERVER_URI \
                 and LAKEHOUSE_REST_SCOPE, or unset LAKEHOUSE_REST_CREDENTIAL if the server \
                 needs none",
                self.uri
            )
        } else if [
            "401 Unauthorized",
            "403 Forbidden",
            "code: 401",
            "code: 403",
            "NotAuthorizedException",
            "ForbiddenException",
        ]
        .iter()
        .any(|t| text.contains(t))
        {
            format!(
                "the Iceberg REST catalog at {} refused the request: check LAKEHOUSE_REST_TOKEN \
                 or LAKEHOUSE_REST_CREDENTIAL (client_id:secret)",
                self.uri
            )
        } else {
            return e;
        };
        Self::wrap(e, hint)
    }

    fn wrap(e: Error, hint: String) -> Error {
        let retryable = e.retryable();
        Error::new(e.kind(), hint)
            .with_retryable(retryable)
            .with_source(e)
    }
}

/// The innermost error of `e`'s source chain, as text.
fn root_cause(e: &Error) -> Option<String> {
    let mut cur = std::error::Error::source(e);
    let mut last = None;
    while let Some(c) = cur {
        last = Some(c.to_string());
        cur = c.source();
    }
    last
}

#[async_trait]
impl Catalog for RestCatalog {
    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
    ) -> Result<Vec<NamespaceIdent>> {
        self.inner.list_namespaces(parent).await.map_err(|e| {
            // Listing the top level answers 404 only when the server does not know the
            // catalog itself (SeaweedFS: no such table bucket); iceberg-rust drops its message.
            if parent.is_none() && e.kind() == iceberg::ErrorKind::NamespaceNotFound {
                let hint = format!(
                    "the Iceberg REST catalog at {} has no catalog for warehouse {}: check \
                     LAKEHOUSE_REST_WAREHOUSE (SeaweedFS: s3://TABLE-BUCKET of an existing table \
                     bucket; Nessie, Polaris, Lakekeeper: the warehouse's name)",
                    self.uri,
                    self.warehouse.as_deref().unwrap_or("(not set)")
                );
                return Self::wrap(e, hint);
            }
            self.explain(e)
        })
    }

    async fn create_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<Namespace> {
        self.inner
            .create_namespace(namespace, properties)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn get_namespace(&self, namespace: &NamespaceIdent) -> Result<Namespace> {
        self.inner
            .get_namespace(namespace)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> Result<bool> {
        self.inner
            .namespace_exists(namespace)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn update_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<()> {
        self.inner
            .update_namespace(namespace, properties)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn drop_namespace(&self, namespace: &NamespaceIdent) -> Result<()> {
        self.inner
            .drop_namespace(namespace)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn list_tables(&self, namespace: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        self.inner
            .list_tables(namespace)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn create_table(
        &self,
        namespace: &NamespaceIdent,
        creation: TableCreation,
    ) -> Result<Table> {
        self.inner
            .create_table(namespace, creation)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn load_table(&self, table: &TableIdent) -> Result<Table> {
        let loaded = self
            .inner
            .load_table(table)
            .await
            .map_err(|e| self.explain(e))?;
        self.remember(&loaded);
        Ok(loaded)
    }

    async fn drop_table(&self, table: &TableIdent) -> Result<()> {
        self.inner
            .drop_table(table)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn purge_table(&self, table: &TableIdent) -> Result<()> {
        self.inner
            .purge_table(table)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn table_exists(&self, table: &TableIdent) -> Result<bool> {
        self.inner
            .table_exists(table)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn rename_table(&self, src: &TableIdent, dest: &TableIdent) -> Result<()> {
        self.inner
            .rename_table(src, dest)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn register_table(&self, table: &TableIdent, metadata_location: String) -> Result<Table> {
        self.inner
            .register_table(table, metadata_location)
            .await
            .map_err(|e| self.explain(e))
    }

    /// On Nessie (with a warehouse named), the commit goes to the prefix
    /// `{ref}@{hash}|{warehouse}`, `hash` being the Nessie commit the table's latest load saw:
    /// iceberg-rust's transaction loads the table right before every commit attempt and builds
    /// the commit on that load, so Nessie then refuses (409, retried by the transaction) a commit
    /// whose base is stale, whatever its requirements. Nessie 0.99 does not enforce
    /// `assert-ref-snapshot-id` with a null snapshot id (projectnessie/nessie#10062), which
    /// otherwise lets a table's racing first appends both succeed and one silently vanish.
    async fn update_table(&self, commit: TableCommit) -> Result<Table> {
        let fence = self
            .loaded_at
            .lock()
            .ok()
            .and_then(|map| map.get(commit.identifier()).cloned());
        let result = match (fence, &self.warehouse) {
            (Some((reference, hash)), Some(warehouse)) => {
                let mut props = self.props.clone();
                props.insert("prefix".into(), fenced_prefix(&reference, &hash, warehouse));
                let fenced = build_client(self.client.clone(), props)
                    .await
                    .map_err(|e| self.explain(e))?;
                fenced.update_table(commit).await
            }
            _ => self.inner.update_table(commit).await,
        };
        let table = result.map_err(|e| self.explain(e))?;
        self.remember(&table);
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iceberg::ErrorKind;
    use std::collections::BTreeMap;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut env: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.insert("LAKEHOUSE_CONFIG".into(), "/dev/null".into());
        Settings::from_map(&env).unwrap()
    }

    fn rest(s: &Settings) -> &RestSettings {
        match &s.catalog {
            crate::settings::CatalogKind::Rest(r) => r,
            other => panic!("not rest: {other:?}"),
        }
    }

    #[test]
    fn props_carry_auth_warehouse_and_only_the_s3_settings_given() {
        let s = settings(&[
            ("LAKEHOUSE_CATALOG", "rest"),
            ("LAKEHOUSE_REST_URI", "http://127.0.0.1:8181/"),
            ("LAKEHOUSE_REST_WAREHOUSE", "s3://tables"),
            ("LAKEHOUSE_REST_CREDENTIAL", "id:secret"),
        ]);
        let p = rest_props(rest(&s), &s);
        assert_eq!(p["uri"], "http://127.0.0.1:8181");
        assert_eq!(p["warehouse"], "s3://tables");
        assert_eq!(p["credential"], "id:secret");
        assert!(!p.contains_key("token"));
        // No endpoint and no explicit path style: the server's S3 settings stand.
        assert!(!p.contains_key("s3.path-style-access"), "{p:?}");
        let s = settings(&[
            ("LAKEHOUSE_CATALOG", "rest"),
            ("LAKEHOUSE_REST_URI", "http://127.0.0.1:8181"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("AWS_ACCESS_KEY_ID", "ak"),
        ]);
        let p = rest_props(rest(&s), &s);
        assert_eq!(p["s3.endpoint"], "http://127.0.0.1:9000");
        assert_eq!(p["s3.access-key-id"], "ak");
        assert_eq!(p["s3.path-style-access"], "true");
        assert!(!p.contains_key("warehouse"));
    }

    #[test]
    fn the_fenced_prefix_is_encoded_like_nessies_own() {
        assert_eq!(
            fenced_prefix("main", "ab12", "warehouse"),
            "main%40ab12%7Cwarehouse"
        );
        assert_eq!(
            fenced_prefix("dev", "0f", "my wh/1"),
            "dev%400f%7Cmy%20wh%2F1"
        );
    }

    #[tokio::test]
    async fn a_server_that_is_down_is_named_with_the_setting() {
        // Port 9 (discard) on loopback: nothing listens there in a test environment.
        let s = settings(&[
            ("LAKEHOUSE_CATALOG", "rest"),
            ("LAKEHOUSE_REST_URI", "http://127.0.0.1:9"),
        ]);
        let cat = open_rest(rest(&s), &s)
            .await
            .expect("building contacts nothing");
        let err = cat.list_namespaces(None).await.unwrap_err();
        let text = err.to_string();
        assert_eq!(err.kind(), ErrorKind::Unexpected);
        assert!(
            text.contains("cannot reach the Iceberg REST catalog"),
            "{text}"
        );
        assert!(text.contains("http://127.0.0.1:9"), "{text}");
        assert!(text.contains("LAKEHOUSE_REST_URI"), "{text}");
    }
}
