//! Iceberg catalogs and their binding to DataFusion.
//!
//! `catalog/` knows nothing of Jupyter. It opens an `iceberg::Catalog` (the embedded SQLite
//! one for now) and exposes it to DataFusion through providers this crate owns, because
//! iceberg-datafusion's providers cache namespace and table lists at construction and go
//! stale after DDL (see PITFALLS.md). Ours keep a listing that is refreshed before each
//! statement that names tables, and load tables from the catalog on every lookup.

mod embedded;
mod metadata;
mod metatables;
pub mod options;
mod parallel;
mod parquet_scan;
mod provider;
mod rest;
mod scan_stats;
mod scoped;
pub mod versioned;

pub use embedded::{embedded_db_uri, open_embedded};
pub use lakehouse_nessie::NessieCatalog;
pub use metatables::METADATA_TABLES;
pub use parallel::{ParallelTable, SplitScan};
pub use provider::{LakehouseCatalog, Listing};
pub use rest::{open_rest, rest_props, RestCatalog};

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema, TimeUnit};
use iceberg::NamespaceIdent;

use crate::error::{CellError, ErrorKind};

/// An opened catalog: what DataFusion reads through, and the Nessie handle for ref
/// operations when the catalog is Nessie (`None` for the embedded and REST catalogs).
pub struct Opened {
    pub catalog: Arc<dyn iceberg::Catalog>,
    pub nessie: Option<NessieCatalog>,
}

/// Opens the catalog the settings name. Nothing is contacted for Nessie or an Iceberg REST
/// server until first use: a server that is down fails the statements that need it, with an
/// error naming its address, and the session carries on.
pub async fn open(settings: &crate::settings::Settings) -> Result<Opened, CellError> {
    use crate::settings::CatalogKind;
    match &settings.catalog {
        CatalogKind::Embedded => Ok(Opened {
            catalog: open_embedded(settings).await?,
            nessie: None,
        }),
        CatalogKind::Nessie {
            uri,
            reference,
            token,
        } => {
            let cfg = lakehouse_nessie::NessieConfig {
                uri: uri.clone(),
                reference: reference.clone(),
                warehouse: settings.warehouse.clone(),
                token: token.clone(),
                file_io_props: settings.s3.file_io_props(),
                author: None,
            };
            let nessie =
                NessieCatalog::new(cfg).map_err(|e| ErrorKind::Catalog.error(e.to_string()))?;
            Ok(Opened {
                catalog: Arc::new(nessie.clone()),
                nessie: Some(nessie),
            })
        }
        CatalogKind::Rest(rest) => Ok(Opened {
            catalog: Arc::new(open_rest(rest, settings).await?),
            nessie: None,
        }),
    }
}

pub use lakehouse_grammar::CATALOG_NAME;

/// The DataFusion schema name for an Iceberg namespace (levels joined with `.`).
pub fn schema_name(ns: &NamespaceIdent) -> String {
    ns.as_ref().join(".")
}

/// The Iceberg namespace for a DataFusion schema name.
pub fn namespace(schema: &str) -> NamespaceIdent {
    NamespaceIdent::from_vec(namespace_levels(schema).map(str::to_string).collect())
        .unwrap_or_else(|_| NamespaceIdent::new(schema.to_string()))
}

/// Checks that schema `name` cannot change the folder its tables live under: each of its
/// levels (the parts between dots) becomes a folder of the warehouse (see
/// [`lakehouse_nessie::check_path_name`] for what is refused and why). Every catalog kind and
/// every statement that creates a schema goes through this.
/// A refused name is a NameError.
pub fn check_schema_name(name: &str) -> Result<(), CellError> {
    namespace_levels(name)
        .try_for_each(|level| {
            lakehouse_nessie::check_path_name("schema", level).map_err(|e| {
                if level == name {
                    e
                } else {
                    format!("{e} (in schema name '{name}': each part between dots is a folder)")
                }
            })
        })
        .map_err(|m| ErrorKind::Name.error(m))
}

/// Checks that table `name` cannot change the folder it lives under (see
/// [`check_schema_name`]); for every statement that creates or renames a table.
pub fn check_table_name(name: &str) -> Result<(), CellError> {
    lakehouse_nessie::check_path_name("table", name).map_err(|m| ErrorKind::Name.error(m))
}

fn namespace_levels(schema: &str) -> impl Iterator<Item = &str> {
    schema.split('.')
}

/// Converts a DataFusion-planned schema into one Iceberg can store.
///
/// DataFusion plans `TIMESTAMP` as nanoseconds, `STRING` as Utf8View and small integers as
/// Int8/16, none of which Iceberg v2 has. Map them to the nearest Iceberg type; inserts are
/// then cast by DataFusion to the table's types. Types with no Iceberg counterpart are an
/// error (a TypeError) that names the column.
pub fn iceberg_compatible(schema: &ArrowSchema) -> Result<ArrowSchema, CellError> {
    let fields = schema
        .fields()
        .iter()
        .map(|f| {
            let dt = compatible_type(f.data_type()).map_err(|t| {
                format!(
                    "column '{}' has type {t}, which Iceberg tables cannot store; use one of \
                     BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, DECIMAL(p,s), DATE, TIMESTAMP, STRING, BINARY",
                    f.name()
                )
            })?;
            Ok(Field::new(f.name(), dt, f.is_nullable()))
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(|m| ErrorKind::Type.error(m))?;
    Ok(ArrowSchema::new(fields))
}

fn compatible_type(dt: &DataType) -> Result<DataType, String> {
    use DataType::*;
    Ok(match dt {
        Int8 | Int16 | UInt8 | UInt16 => Int32,
        UInt32 => Int64,
        Utf8View | LargeUtf8 => Utf8,
        BinaryView | LargeBinary => Binary,
        Float16 => Float32,
        Date64 => Date32,
        Timestamp(_, tz) => Timestamp(TimeUnit::Microsecond, tz.clone()),
        Time32(_) | Time64(_) => Time64(TimeUnit::Microsecond),
        List(f) | LargeList(f) | ListView(f) | LargeListView(f) => List(Arc::new(Field::new(
            f.name(),
            compatible_type(f.data_type())?,
            f.is_nullable(),
        ))),
        Struct(fields) => Struct(
            fields
                .iter()
                .map(|f| {
                    Ok(Field::new(
                        f.name(),
                        compatible_type(f.data_type())?,
                        f.is_nullable(),
                    ))
                })
                .collect::<Result<Vec<_>, String>>()?
                .into(),
        ),
        Boolean
        | Int32
        | Int64
        | Float32
        | Float64
        | Utf8
        | Binary
        | Date32
        | Decimal128(_, _)
        | FixedSizeBinary(_)
        | Map(_, _) => dt.clone(),
        other => return Err(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datafusion_types_become_iceberg_types() {
        let s = ArrowSchema::new(vec![
            Field::new("s", DataType::Utf8View, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
            Field::new("i", DataType::Int16, false),
        ]);
        let out = iceberg_compatible(&s).unwrap();
        assert_eq!(out.field(0).data_type(), &DataType::Utf8);
        assert_eq!(
            out.field(1).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(out.field(2).data_type(), &DataType::Int32);
        assert!(!out.field(2).is_nullable());
    }

    #[test]
    fn unsupported_type_names_the_column() {
        let s = ArrowSchema::new(vec![Field::new("d", DataType::UInt64, true)]);
        let err = iceberg_compatible(&s).unwrap_err();
        assert!(
            err.evalue.contains("'d'") && err.evalue.contains("UInt64"),
            "{err}"
        );
    }

    #[test]
    fn names_that_leave_their_folder_are_refused() {
        for bad in ["..", "a..b", "a/b", "../x", ".", ""] {
            let err = check_schema_name(bad).unwrap_err();
            assert!(err.evalue.contains("schema name"), "{err}");
        }
        assert!(check_schema_name("a..b")
            .unwrap_err()
            .evalue
            .contains("'a..b'"));
        check_schema_name("demo").unwrap();
        check_schema_name("a.b").unwrap();
        for bad in ["../../../../trav-escape-table", "../victim/t", "..", "t\\u"] {
            assert!(check_table_name(bad)
                .unwrap_err()
                .evalue
                .starts_with("table name"));
        }
        check_table_name("events.v2").unwrap();
    }

    #[test]
    fn namespace_round_trips() {
        assert_eq!(schema_name(&namespace("a.b")), "a.b");
        assert_eq!(schema_name(&namespace("demo")), "demo");
    }
}
