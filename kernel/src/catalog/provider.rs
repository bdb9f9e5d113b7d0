//! DataFusion catalog and schema providers over an `iceberg::Catalog`.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result as DFResult};
use iceberg::table::Table;
use iceberg::{Catalog, ErrorKind, TableIdent};
use iceberg_datafusion::{IcebergCatalogProvider, IcebergStaticTableProvider};
use lakehouse_nessie::NessieCatalog;

use super::metadata::ProjectedMetadataTable;
use super::metatables::{self, METADATA_TABLES};
use super::parallel::ParallelTable;
use super::scoped::ScopedCatalog;
use super::versioned::{format_millis, RefPoint, SnapshotSel, TableSpec};
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
    /// The same catalog as a Nessie catalog, when it is one: `t@ref` / `t#hash` names derive
    /// other references from it.
    nessie: RwLock<Option<NessieCatalog>>,
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
    /// Wraps `catalog` (`nessie` is the same catalog when it is a Nessie one); call
    /// [`refresh`](Self::refresh) before planning statements.
    pub fn new(catalog: Arc<dyn Catalog>, nessie: Option<NessieCatalog>) -> Self {
        LakehouseCatalog {
            shared: Arc::new(Shared {
                catalog: RwLock::new(catalog),
                nessie: RwLock::new(nessie),
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

    /// The session's Nessie catalog (on the active reference), when the catalog is Nessie.
    pub fn nessie(&self) -> Option<NessieCatalog> {
        self.shared.nessie.read().expect("catalog lock").clone()
    }

    /// Reads and writes go to `nessie` (another reference of the Nessie catalog) from now on.
    pub fn use_nessie(&self, nessie: NessieCatalog) {
        *self.shared.catalog.write().expect("catalog lock") = Arc::new(nessie.clone());
        *self.shared.nessie.write().expect("catalog lock") = Some(nessie);
    }

    /// Marks the start of a statement: table loads cached by an earlier statement expire.
    pub fn next_statement(&self) {
        self.shared.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Re-reads schemas and tables from the catalog, so listings are never stale after DDL
    /// here or in another kernel.
    pub async fn refresh(&self) -> iceberg::Result<Listing> {
        let listing = Self::list(self.iceberg().as_ref()).await?;
        *self.shared.listing.write().expect("listing lock") = listing.clone();
        Ok(listing)
    }

    /// Lists the schemas and tables of `cat` without keeping the result (for caches that
    /// refresh in the background and must not overwrite a newer listing).
    pub async fn list(cat: &dyn Catalog) -> iceberg::Result<Listing> {
        let mut listing = Listing::default();
        for ns in cat.list_namespaces(None).await? {
            let tables = match cat.list_tables(&ns).await {
                Ok(tables) => tables.into_iter().map(|t| t.name().to_string()).collect(),
                // The embedded catalog lists the first level `a` of a schema `a.b` even when
                // `a` itself was never created: there is nothing to list there.
                Err(e) if e.kind() == iceberg::ErrorKind::NamespaceNotFound => continue,
                Err(e) => return Err(e),
            };
            listing.schemas.insert(schema_name(&ns), tables);
        }
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
        // Every name gets a provider, listed or not: ``ns.`t@dev` `` must resolve when `ns`
        // exists only on dev, and a missing namespace then reads as a missing table, whose
        // error lists the tables there are.
        Some(Arc::new(LakehouseSchema {
            name: name.to_string(),
            shared: self.shared.clone(),
        }) as Arc<dyn SchemaProvider>)
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
        // `t$snapshots`, `t@dev`, `t#hash`, `t VERSION AS OF 5` (see `versioned`).
        let spec = TableSpec::parse(name).map_err(|e| DataFusionError::Plan(e.evalue))?;
        let catalog = self.catalog_for(&spec)?;
        let ident = TableIdent::new(namespace(&self.name), spec.table.clone());
        let scoped = Arc::new(ScopedCatalog::new(
            catalog,
            ident.clone(),
            self.shared.epoch.clone(),
        ));
        let unavailable = |e: iceberg::Error| {
            DataFusionError::External(Box::new(CatalogUnavailable {
                table: format!("{}.{}", self.name, spec.display()),
                source: e,
            }))
        };
        let not_found = |e: &iceberg::Error| {
            matches!(
                e.kind(),
                ErrorKind::TableNotFound | ErrorKind::NamespaceNotFound
            )
        };
        if let Some(sel) = spec.snapshot {
            if spec.metadata.is_some() {
                return Err(DataFusionError::Plan(format!(
                    "{}: metadata tables show every snapshot already; drop VERSION/TIMESTAMP AS OF",
                    spec.display()
                )));
            }
            let table = match scoped.load_table(&ident).await {
                Ok(t) => t,
                Err(e) if not_found(&e) => return Ok(None),
                Err(e) => return Err(unavailable(e)),
            };
            let id = snapshot_id(&table, sel, &format!("{}.{}", self.name, spec.table))?;
            let provider = IcebergStaticTableProvider::try_new_from_table_snapshot(table, id)
                .await
                .map_err(unavailable)?;
            return Ok(Some(ParallelTable::wrap(Arc::new(provider))));
        }
        if let Some(m) = spec.metadata.as_deref() {
            if !METADATA_TABLES.contains(&m) {
                return Err(DataFusionError::Plan(format!(
                    "{}.{}: there is no metadata table '{m}'; metadata tables: {}",
                    self.name,
                    spec.display(),
                    METADATA_TABLES.join(", ")
                )));
            }
            if metatables::is_ours(m) {
                let table = match scoped.load_table(&ident).await {
                    Ok(t) => t,
                    Err(e) if not_found(&e) => return Ok(None),
                    Err(e) => return Err(unavailable(e)),
                };
                return metatables::provider(&table, m)
                    .await
                    .map(Some)
                    .map_err(unavailable);
            }
        }
        let provider = match IcebergCatalogProvider::try_new(scoped).await {
            Ok(p) => p,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let table = match provider.schema(&self.name) {
            Some(schema) => schema.table(&spec.provider_name()).await?,
            None => None,
        };
        Ok(match table {
            Some(t) if spec.metadata.is_some() => {
                Some(Arc::new(ProjectedMetadataTable::new(t)) as Arc<dyn TableProvider>)
            }
            // Scans read in `target_partitions` partitions (see `parallel`).
            t => t.map(ParallelTable::wrap),
        })
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

impl LakehouseSchema {
    /// The catalog a table name reads from: the session's, or another Nessie reference.
    fn catalog_for(&self, spec: &TableSpec) -> DFResult<Arc<dyn Catalog>> {
        if !spec.has_ref() {
            return Ok(self.shared.catalog.read().expect("catalog lock").clone());
        }
        let nessie = self.shared.nessie.read().expect("catalog lock").clone();
        let Some(nessie) = nessie else {
            return Err(DataFusionError::Plan(format!(
                "{}: table names with @branch or #commit need the Nessie catalog \
                 (set NESSIE_URI); this catalog has no branches",
                spec.display()
            )));
        };
        let reference = spec
            .reference
            .clone()
            .unwrap_or_else(|| nessie.reference().to_string());
        let hash = match &spec.point {
            Some(RefPoint::Hash(h)) => Some(h.clone()),
            Some(RefPoint::Time(ms)) => Some(lakehouse_nessie::at_time(*ms)),
            // `t@dev` reads dev's HEAD even when the session is pinned to a commit of main.
            None if spec.reference.is_some() => None,
            None => nessie.pinned_hash().map(str::to_string),
        };
        Ok(Arc::new(nessie.with_reference(&reference, hash)))
    }
}

/// The snapshot `sel` picks, or an error that lists the snapshots there are.
fn snapshot_id(table: &Table, sel: SnapshotSel, name: &str) -> DFResult<i64> {
    let meta = table.metadata();
    let mut snaps: Vec<_> = meta.snapshots().collect();
    snaps.sort_by_key(|s| s.timestamp_ms());
    let listed = || {
        let shown: Vec<String> = snaps
            .iter()
            .rev()
            .take(10)
            .map(|s| format!("{} ({})", s.snapshot_id(), format_millis(s.timestamp_ms())))
            .collect();
        if shown.is_empty() {
            "none: the table has no data yet".to_string()
        } else {
            format!(
                "{} (newest first; all in {name}$snapshots)",
                shown.join(", ")
            )
        }
    };
    match sel {
        SnapshotSel::Id(id) => match meta.snapshot_by_id(id) {
            Some(_) => Ok(id),
            None => Err(DataFusionError::Plan(format!(
                "table {name} has no snapshot {id}; snapshots: {}",
                listed()
            ))),
        },
        SnapshotSel::Time(ms) => {
            // The snapshot that was current then: the newest one of the table's history
            // (its snapshot log) at or before `ms`, as Spark's TIMESTAMP AS OF does.
            let from_log = meta
                .history()
                .iter()
                .filter(|l| l.timestamp_ms <= ms)
                .max_by_key(|l| l.timestamp_ms)
                .map(|l| l.snapshot_id);
            let from_snapshots = snaps
                .iter()
                .rev()
                .find(|s| s.timestamp_ms() <= ms)
                .map(|s| s.snapshot_id());
            from_log.or(from_snapshots).ok_or_else(|| {
                DataFusionError::Plan(format!(
                    "table {name} had no snapshot at {}; snapshots: {}",
                    format_millis(ms),
                    listed()
                ))
            })
        }
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
