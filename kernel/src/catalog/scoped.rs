//! A view of a catalog that shows exactly one table, and loads it at most once.
//!
//! iceberg-datafusion builds its (writable) table provider only through its catalog
//! provider, which lists every namespace and loads every table. Handing it this view
//! builds the provider for one table with one `load_table`; the scan and the insert of the
//! same statement reuse that load until a commit replaces it. A provider that outlives its
//! statement (inside a view) reloads, because the cache is tagged with the statement epoch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use iceberg::table::Table;
use iceberg::{
    Catalog, Error, ErrorKind, Namespace, NamespaceIdent, Result, TableCommit, TableCreation,
    TableIdent,
};
use tokio::sync::Mutex;

/// One table of `inner`, as a catalog.
#[derive(Debug)]
pub struct ScopedCatalog {
    inner: Arc<dyn Catalog>,
    ident: TableIdent,
    epoch: Arc<AtomicU64>,
    loaded: Mutex<Option<(u64, Table)>>,
}

impl ScopedCatalog {
    /// A view of `ident` in `inner`.
    /// `epoch` is bumped by the session before every statement.
    pub fn new(inner: Arc<dyn Catalog>, ident: TableIdent, epoch: Arc<AtomicU64>) -> Self {
        ScopedCatalog {
            inner,
            ident,
            epoch,
            loaded: Mutex::new(None),
        }
    }

    fn read_only(&self, what: &str) -> Error {
        Error::new(
            ErrorKind::FeatureUnsupported,
            format!(
                "{what} is not available through the table view of {}",
                self.ident
            ),
        )
    }
}

#[async_trait]
impl Catalog for ScopedCatalog {
    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
    ) -> Result<Vec<NamespaceIdent>> {
        Ok(match parent {
            None => vec![self.ident.namespace().clone()],
            Some(_) => vec![],
        })
    }

    async fn create_namespace(
        &self,
        _namespace: &NamespaceIdent,
        _properties: HashMap<String, String>,
    ) -> Result<Namespace> {
        Err(self.read_only("create_namespace"))
    }

    async fn get_namespace(&self, namespace: &NamespaceIdent) -> Result<Namespace> {
        self.inner.get_namespace(namespace).await
    }

    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> Result<bool> {
        Ok(namespace == self.ident.namespace())
    }

    async fn update_namespace(
        &self,
        _namespace: &NamespaceIdent,
        _properties: HashMap<String, String>,
    ) -> Result<()> {
        Err(self.read_only("update_namespace"))
    }

    async fn drop_namespace(&self, _namespace: &NamespaceIdent) -> Result<()> {
        Err(self.read_only("drop_namespace"))
    }

    async fn list_tables(&self, namespace: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        Ok(if namespace == self.ident.namespace() {
            vec![self.ident.clone()]
        } else {
            vec![]
        })
    }

    async fn create_table(
        &self,
        _namespace: &NamespaceIdent,
        _creation: TableCreation,
    ) -> Result<Table> {
        Err(self.read_only("create_table"))
    }

    async fn load_table(&self, table: &TableIdent) -> Result<Table> {
        if table != &self.ident {
            return self.inner.load_table(table).await;
        }
        let now = self.epoch.load(Ordering::Acquire);
        let mut loaded = self.loaded.lock().await;
        if let Some((at, t)) = loaded.as_ref() {
            if *at == now {
                return Ok(t.clone());
            }
        }
        let t = self.inner.load_table(table).await?;
        *loaded = Some((now, t.clone()));
        Ok(t)
    }

    async fn drop_table(&self, _table: &TableIdent) -> Result<()> {
        Err(self.read_only("drop_table"))
    }

    async fn purge_table(&self, _table: &TableIdent) -> Result<()> {
        Err(self.read_only("purge_table"))
    }

    async fn table_exists(&self, table: &TableIdent) -> Result<bool> {
        if table == &self.ident {
            Ok(true)
        } else {
            self.inner.table_exists(table).await
        }
    }

    async fn rename_table(&self, _src: &TableIdent, _dest: &TableIdent) -> Result<()> {
        Err(self.read_only("rename_table"))
    }

    async fn register_table(
        &self,
        _table: &TableIdent,
        _metadata_location: String,
    ) -> Result<Table> {
        Err(self.read_only("register_table"))
    }

    async fn update_table(&self, commit: TableCommit) -> Result<Table> {
        match self.inner.update_table(commit).await {
            Ok(t) => {
                *self.loaded.lock().await = Some((self.epoch.load(Ordering::Acquire), t.clone()));
                Ok(t)
            }
            Err(e) => {
                // Another writer moved the table: iceberg's commit retry reloads it through
                // `load_table` and must see the new state, not this statement's cached one.
                *self.loaded.lock().await = None;
                Err(e)
            }
        }
    }
}
