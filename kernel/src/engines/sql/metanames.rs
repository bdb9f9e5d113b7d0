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

#[cfg(test)]
mod tests {
    use super::super::tests_support::{engine, last_table, rows, run, tempdir};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn metadata_tables_in_both_spellings() {
        let dir = tempdir("metatables");
        let e = engine(&dir).await;
        let (_, r) = run(
            &e,
            "CREATE SCHEMA demo;
             CREATE TABLE demo.t (id BIGINT, s STRING);
             INSERT INTO demo.t VALUES (1, 'a'), (2, 'b');
             INSERT INTO demo.t VALUES (3, 'c');",
        )
        .await;
        r.unwrap();
        let count = |outs: &[super::super::Output]| rows(last_table(outs))[0][0].clone();
        for (sql, want) in [
            ("SELECT count(*) FROM demo.`t$snapshots`", "2"),
            ("SELECT count(*) FROM demo.t.snapshots", "2"),
            ("SELECT count(*) FROM lakehouse.demo.t.snapshots", "2"),
            (
                "SELECT count(*) FROM demo.t.history WHERE is_current_ancestor",
                "2",
            ),
            ("SELECT sum(record_count) FROM demo.t.files", "3"),
            (
                "SELECT count(*) FROM demo.`t$files` WHERE file_format = 'PARQUET'",
                "2",
            ),
            ("SELECT count(*) FROM demo.t.manifests", "2"),
            ("SELECT record_count FROM demo.t.partitions", "3"),
            ("SELECT file_count FROM demo.`t$partitions`", "2"),
            // The catalog's own three-part names are untouched.
            ("SELECT count(*) FROM lakehouse.demo.t", "3"),
        ] {
            let (outs, r) = run(&e, sql).await;
            r.unwrap_or_else(|err| panic!("{sql}: {err:?}"));
            assert_eq!(count(&outs), want, "{sql}");
        }
        // history's snapshot ids are the snapshots' ids.
        let (outs, r) = run(
            &e,
            "SELECT count(*) FROM demo.t.history h JOIN demo.t.snapshots s USING (snapshot_id)",
        )
        .await;
        r.unwrap();
        assert_eq!(count(&outs), "2");
        // An unknown metadata table names the ones there are.
        let (_, r) = run(&e, "SELECT * FROM demo.`t$snapshotz`").await;
        let err = r.unwrap_err();
        assert!(err.evalue.contains("partitions"), "{}", err.evalue);
        // A three-part name whose first two parts are no table stays a catalog name.
        let (_, r) = run(&e, "SELECT * FROM demo.nope.snapshots").await;
        assert!(r.is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
