//! Spark's spelling of Iceberg metadata tables: `demo.events.snapshots` (and
//! `lakehouse.demo.events.snapshots`) for `demo.events$snapshots`.
//!
//! A three-part name is normally `catalog.schema.table`. It is read as Spark's metadata
//! table only when its first part is not the catalog's name, its last part is a metadata
//! table name, and its first two parts name an existing table, so `lakehouse.demo.t` and
//! every other name keep their meaning.

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{visit_relations_mut, Ident, ObjectName, ObjectNamePart};

use crate::catalog::versioned::TableSpec;
use crate::catalog::{LakehouseCatalog, Listing, CATALOG_NAME, METADATA_TABLES};

/// An identifier as DataFusion reads it: unquoted names are lower-cased.
fn normalized(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

fn idents(name: &ObjectName) -> Option<Vec<&Ident>> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(i),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

/// `[schema, table, metadata]` of a name that may be Spark's spelling of a metadata table.
fn candidate(name: &ObjectName) -> Option<[String; 3]> {
    let parts = idents(name)?;
    let parts: &[&Ident] = match parts.as_slice() {
        [c, rest @ ..] if rest.len() == 3 && normalized(c) == CATALOG_NAME => rest,
        [first, ..] if parts.len() == 3 && normalized(first) != CATALOG_NAME => &parts,
        _ => return None,
    };
    let meta = normalized(parts[2]);
    if !METADATA_TABLES.contains(&meta.as_str()) {
        return None;
    }
    Some([normalized(parts[0]), normalized(parts[1]), meta])
}

fn table_exists(listing: &Listing, schema: &str, table: &str) -> bool {
    let base = TableSpec::parse(table).map(|s| s.table).unwrap_or_default();
    listing
        .schemas
        .get(schema)
        .is_some_and(|ts| ts.contains(&base))
}

/// Rewrites Spark-spelled metadata table names in `statement` to `schema."table$meta"`.
pub(super) async fn rewrite(statement: &mut Statement, catalog: &LakehouseCatalog) {
    let Statement::Statement(s) = statement else {
        return;
    };
    let mut found = vec![];
    let _ = visit_relations_mut(s.as_mut(), |name: &mut ObjectName| {
        if let Some(c) = candidate(name) {
            found.push(c);
        }
        ControlFlow::<()>::Continue(())
    });
    if found.is_empty() {
        return;
    }
    let mut listing = catalog.listing();
    if found.iter().any(|[s, t, _]| !table_exists(&listing, s, t)) {
        // The listing may predate a table created elsewhere; look once more.
        if let Ok(fresh) = catalog.refresh().await {
            listing = fresh;
        }
    }
    let _ = visit_relations_mut(s.as_mut(), |name: &mut ObjectName| {
        if let Some([schema, table, meta]) = candidate(name) {
            if table_exists(&listing, &schema, &table) {
                *name = ObjectName(vec![
                    ObjectNamePart::Identifier(Ident::with_quote('"', schema)),
                    ObjectNamePart::Identifier(Ident::with_quote('"', format!("{table}${meta}"))),
                ]);
            }
        }
        ControlFlow::<()>::Continue(())
    });
}
