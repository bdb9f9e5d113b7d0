//! DataFusion catalog and schema providers over an `iceberg::Catalog`.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result as DFResult};
use iceberg::{Catalog, ErrorKind, TableIdent};
use iceberg_datafusion::IcebergCatalogProvider;

use super::scoped::ScopedCatalog;
use super::{namespace, schema_name};

/// Schemas and their Iceberg tables, as last listed from the catalog.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Listing {
    /// schema name → table names
    pub schemas: BTreeMap<String, BTreeSet<String>>,
}

impl Listing {
    /// Every table as `schema.table`, for messages and completion.
    pub fn qualified_tables(&self) -> Vec<String> {
        self.schemas
            .iter()
            .flat_map(|(s, ts)| ts.iter().map(move |t| format!("{s}.{t}")))
            .collect()
    }
}

type SessionObjects = BTreeMap<String, BTreeMap<String, Arc<dyn TableProvider>>>;

#[derive(Debug)]
struct Shared {
    /// Swapped by `USE REFERENCE` (a Nessie catalog pinned to another ref).
    catalog: RwLock<Arc<dyn Catalog>>,
    listing: RwLock<Listing>,
    /// Views and other session-only objects, per schema; they shadow nothing in the catalog.
    session: RwLock<SessionObjects>,
    epoch: Arc<AtomicU64>,
}

impl Shared {
    fn listing(&self) -> std::sync::RwLockReadGuard<'_, Listing> {
        self.listing.read().expect("listing lock")
    }

    fn session(&self) -> std::sync::RwLockReadGuard<'_, SessionObjects> {
        self.session.read().expect("session lock")
    }
}

/// The Iceberg catalog as a DataFusion catalog (`lakehouse`).
#[derive(Debug, Clone)]
pub struct LakehouseCatalog {
    shared: Arc<Shared>,
}

impl LakehouseCatalog {
    /// Wraps `catalog`; call [`refresh`](Self::refresh) before planning statements.
    pub fn new(catalog: Arc<dyn Catalog>) -> Self {
        LakehouseCatalog {
            shared: Arc::new(Shared {
                catalog: RwLock::new(catalog),
                listing: RwLock::new(Listing::default()),
                session: RwLock::new(BTreeMap::new()),
                epoch: Arc::new(AtomicU64::new(0)),
            }),
        }
    }

    /// The underlying Iceberg catalog.
    pub fn iceberg(&self) -> Arc<dyn Catalog> {
        self.shared.catalog.read().expect("catalog lock").clone()
    }

    /// Reads and writes go to `catalog` from now on (e.g. another Nessie reference).
    pub fn set_iceberg(&self, catalog: Arc<dyn Catalog>) {
        *self.shared.catalog.write().expect("catalog lock") = catalog;
    }

    /// Marks the start of a statement: table loads cached by an earlier statement expire.
    pub fn next_statement(&self) {
        self.shared.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Re-reads schemas and tables from the catalog, so listings are never stale after DDL
    /// here or in another kernel.
    pub async fn refresh(&self) -> iceberg::Result<Listing> {
        let cat = self.iceberg();
        let mut listing = Listing::default();
        for ns in cat.list_namespaces(None).await? {
            let tables = cat
                .list_tables(&ns)
                .await?
                .into_iter()
                .map(|t| t.name().to_string())
                .collect();
            listing.schemas.insert(schema_name(&ns), tables);
        }
        *self.shared.listing.write().expect("listing lock") = listing.clone();
        Ok(listing)
    }

    /// The last listing (see [`refresh`](Self::refresh)).
    pub fn listing(&self) -> Listing {
        self.shared.listing().clone()
    }

    /// Session-only objects (views) as `schema.name`.
    pub fn session_objects(&self) -> Vec<String> {
        let session = self.shared.session();
        session
            .iter()
            .flat_map(|(s, m)| m.keys().map(move |n| format!("{s}.{n}")))
            .collect()
    }

    fn has_schema(&self, name: &str) -> bool {
        self.shared.listing().schemas.contains_key(name) || self.shared.session().contains_key(name)
    }
}

impl CatalogProvider for LakehouseCatalog {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema_names(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = self.shared.listing().schemas.keys().cloned().collect();
        names.extend(self.shared.session().keys().cloned());
        names.into_iter().collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        self.has_schema(name).then(|| {
            Arc::new(LakehouseSchema {
                name: name.to_string(),
                shared: self.shared.clone(),
            }) as Arc<dyn SchemaProvider>
        })
    }

    fn register_schema(
        &self,
        name: &str,
        _schema: Arc<dyn SchemaProvider>,
    ) -> DFResult<Option<Arc<dyn SchemaProvider>>> {
        Err(DataFusionError::Plan(format!(
            "schema '{name}' cannot be registered directly; use CREATE SCHEMA {name}"
        )))
    }
}

/// One Iceberg namespace as a DataFusion schema.
#[derive(Debug)]
struct LakehouseSchema {
    name: String,
    shared: Arc<Shared>,
}

impl LakehouseSchema {
    fn session_object(&self, name: &str) -> Option<Arc<dyn TableProvider>> {
        self.shared
            .session()
            .get(&self.name)
            .and_then(|m| m.get(name).cloned())
    }

    fn in_listing(&self, name: &str) -> bool {
        self.shared
            .listing()
            .schemas
            .get(&self.name)
            .is_some_and(|t| t.contains(name))
    }
}

#[async_trait]
impl SchemaProvider for LakehouseSchema {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn table_names(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = self
            .shared
            .listing()
            .schemas
            .get(&self.name)
            .cloned()
            .unwrap_or_default();
        if let Some(m) = self.shared.session().get(&self.name) {
            names.extend(m.keys().cloned());
        }
        names.into_iter().collect()
    }

    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        if let Some(t) = self.session_object(name) {
            return Ok(Some(t));
        }
        // `t$snapshots` etc. are iceberg-datafusion metadata tables of `t`.
        let base = name.split_once('$').map_or(name, |(b, _)| b);
        let ns = namespace(&self.name);
        let ident = TableIdent::new(ns, base.to_string());
        let catalog = self.shared.catalog.read().expect("catalog lock").clone();
        let scoped = Arc::new(ScopedCatalog::new(
            catalog,
            ident,
            self.shared.epoch.clone(),
        ));
        let provider = match IcebergCatalogProvider::try_new(scoped).await {
            Ok(p) => p,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::TableNotFound | ErrorKind::NamespaceNotFound
                ) =>
            {
                return Ok(None)
            }
            Err(e) => {
                return Err(DataFusionError::External(Box::new(CatalogUnavailable {
                    table: format!("{}.{}", self.name, base),
                    source: e,
                })))
            }
        };
        match provider.schema(&self.name) {
            Some(schema) => schema.table(name).await,
            None => Ok(None),
        }
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> DFResult<Option<Arc<dyn TableProvider>>> {
        if self.in_listing(&name) {
            return Err(DataFusionError::Plan(format!(
                "{}.{name} is an Iceberg table; choose another name for the view",
                self.name
            )));
        }
        let mut session = self.shared.session.write().expect("session lock");
        Ok(session
            .entry(self.name.clone())
            .or_default()
            .insert(name, table))
    }

    fn deregister_table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        let mut session = self.shared.session.write().expect("session lock");
        Ok(session.get_mut(&self.name).and_then(|m| m.remove(name)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.session_object(name).is_some() || self.in_listing(name)
    }
}

/// Loading a table failed for a reason other than "it does not exist".
#[derive(Debug, thiserror::Error)]
#[error("cannot load table {table} from the catalog: {source}")]
pub struct CatalogUnavailable {
    /// `schema.table`
    pub table: String,
    /// What the catalog said.
    #[source]
    pub source: iceberg::Error,
}
