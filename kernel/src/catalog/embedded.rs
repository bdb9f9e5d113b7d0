//! The embedded default: iceberg-rust's SQL catalog on a SQLite file, with a local warehouse.

use std::collections::HashMap;
use std::sync::Arc;

use iceberg::{Catalog, CatalogBuilder};
use iceberg_catalog_sql::{SqlCatalogBuilder, SQL_CATALOG_PROP_URI, SQL_CATALOG_PROP_WAREHOUSE};
use iceberg_storage_opendal::OpenDalResolvingStorageFactory;

use super::{namespace, CATALOG_NAME};
use crate::error::{CellError, ErrorKind};
use crate::settings::Settings;

/// The SQLite URI of the embedded catalog's database (the kernel's own commits use it too).
pub fn embedded_db_uri(settings: &Settings) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        settings.home.join("catalog.db").display()
    )
}

/// Opens (creating on first use) the persistent embedded catalog under `settings.home`,
/// and makes sure the default schema exists so unqualified names work at once.
/// Failures are CatalogErrors naming the folder or setting to fix.
pub async fn open_embedded(settings: &Settings) -> Result<Arc<dyn Catalog>, CellError> {
    open(settings)
        .await
        .map_err(|m| ErrorKind::Catalog.error(m))
}

async fn open(settings: &Settings) -> Result<Arc<dyn Catalog>, String> {
    std::fs::create_dir_all(&settings.home).map_err(|e| {
        format!(
            "cannot create the catalog folder {}: {e}. Set LAKEHOUSE_HOME to a writable folder",
            settings.home.display()
        )
    })?;
    let warehouse = settings.warehouse_uri();
    if let Some(path) = warehouse.strip_prefix("file://") {
        std::fs::create_dir_all(path).map_err(|e| {
            format!("cannot create the warehouse folder {path}: {e}. Set LAKEHOUSE_WAREHOUSE to a writable folder")
        })?;
    }
    let db = settings.home.join("catalog.db");
    let uri = embedded_db_uri(settings);
    let mut props = settings.s3.file_io_props();
    props.insert(SQL_CATALOG_PROP_URI.to_string(), uri);
    props.insert(SQL_CATALOG_PROP_WAREHOUSE.to_string(), warehouse);
    let catalog = SqlCatalogBuilder::default()
        .with_storage_factory(Arc::new(OpenDalResolvingStorageFactory::new()))
        .load(CATALOG_NAME, props)
        .await
        .map_err(|e| format!("cannot open the embedded catalog {}: {e}", db.display()))?;
    super::check_schema_name(&settings.default_schema)
        .map_err(|e| format!("LAKEHOUSE_DEFAULT_SCHEMA: {}", e.evalue))?;
    let ns = namespace(&settings.default_schema);
    if !catalog.namespace_exists(&ns).await.unwrap_or(false) {
        // Another kernel may create it at the same moment: only a real failure matters.
        if let Err(e) = catalog.create_namespace(&ns, HashMap::new()).await {
            if !catalog.namespace_exists(&ns).await.unwrap_or(false) {
                return Err(format!(
                    "cannot create the default schema '{}': {e}",
                    settings.default_schema
                ));
            }
        }
    }
    Ok(Arc::new(catalog))
}
