//! `SHOW DATABASES` / `SHOW SCHEMAS` / `SHOW NAMESPACES`, `SHOW TBLPROPERTIES t [('key')]`
//! and `DESCRIBE [TABLE] EXTENDED t` (also `FORMATTED`), answered from the Iceberg catalog and table metadata.
//!
//! DESCRIBE EXTENDED follows Spark's layout for Iceberg tables: rows of (col_name,
//! data_type, comment) with the columns first, then sections whose first row starts with
//! `#` (partitioning, current snapshot, table information). Plain `DESCRIBE t` stays
//! DataFusion's.

use std::time::Instant;

use datafusion::common::TableReference;
use datafusion::sql::sqlparser::ast::ObjectNamePart;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use iceberg::spec::{PrimitiveType, Transform, Type};
use iceberg::table::Table;
use iceberg::{ErrorKind, TableIdent};
use tokio::sync::mpsc::UnboundedSender;

use super::errors;
use super::{refs, Output, SqlEngine};
use crate::catalog::versioned::{format_millis, TableSpec};
use crate::catalog::{self, CATALOG_NAME};
use crate::error::{self, CellError};

pub use lakehouse_grammar::describe::*;

/// Spark's `LIKE` for SHOW DATABASES: `*` any characters, `|` separates alternatives;
/// SQL's `%` and `_` work too. Case-insensitive.
fn matches_like(pattern: &str, name: &str) -> bool {
    fn glob(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*' | '%', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
            Some(('_', rest)) => !s.is_empty() && glob(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
        }
    }
    let name: Vec<char> = name.to_lowercase().chars().collect();
    pattern.split('|').any(|alt| {
        let p: Vec<char> = alt.trim().to_lowercase().chars().collect();
        glob(&p, &name)
    })
}

impl SqlEngine {
    /// Answers a [`Describe`] statement.
    pub(super) async fn run_describe(
        &self,
        stmt: Describe,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        let started = Instant::now();
        match stmt {
            Describe::Schemas { like } => {
                let listing = self
                    .catalog
                    .refresh()
                    .await
                    .map_err(|e| errors::catalog("cannot list the catalog", e))?;
                let rows = listing
                    .schemas
                    .keys()
                    .filter(|s| like.as_deref().is_none_or(|p| matches_like(p, s)))
                    .map(|s| vec![s.clone()])
                    .collect();
                refs::send_table(out, started, &["namespace"], rows);
            }
            Describe::Extended { name } => {
                let table = self.load_for_describe(&name).await?;
                let rows = describe_rows(&table);
                refs::send_table(out, started, &["col_name", "data_type", "comment"], rows);
            }
            Describe::Properties { name, key } => {
                let table = self.load_for_describe(&name).await?;
                let props = table.metadata().properties();
                let rows = match key {
                    // Spark answers a missing key with a row that says so.
                    Some(k) => vec![match props.get(&k) {
                        Some(v) => vec![k, v.clone()],
                        None => {
                            let v = format!("Table {name} does not have property: {k}");
                            vec![k, v]
                        }
                    }],
                    None => {
                        let mut rows: Vec<Vec<String>> = props
                            .iter()
                            .map(|(k, v)| vec![k.clone(), v.clone()])
                            .collect();
                        rows.sort();
                        rows
                    }
                };
                refs::send_table(out, started, &["key", "value"], rows);
            }
        }
        self.tables_sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    async fn load_for_describe(&self, name: &str) -> Result<Table, CellError> {
        let bad = |m: String| CellError::new(error::ErrorKind::Syntax, m);
        let object = Parser::new(&GenericDialect {})
            .try_with_sql(name)
            .and_then(|mut p| p.parse_object_name(false))
            .map_err(|e| bad(format!("DESCRIBE EXTENDED {name}: {e}")))?;
        let parts: Vec<String> = object
            .0
            .iter()
            .map(|p| match p {
                ObjectNamePart::Identifier(i) if i.quote_style.is_none() => {
                    Ok(i.value.to_lowercase())
                }
                ObjectNamePart::Identifier(i) => Ok(i.value.clone()),
                ObjectNamePart::Function(_) => {
                    Err(bad(format!("DESCRIBE EXTENDED {name}: not a table name")))
                }
            })
            .collect::<Result<_, _>>()?;
        let reference = match parts.as_slice() {
            [t] => TableReference::bare(t.as_str()),
            [s, t] => TableReference::partial(s.as_str(), t.as_str()),
            [c, s, t] => TableReference::full(c.as_str(), s.as_str(), t.as_str()),
            _ => {
                return Err(bad(format!(
                    "DESCRIBE EXTENDED {name}: write [{CATALOG_NAME}.]schema.table"
                )))
            }
        };
        let (schema, table) = self.resolve(&reference)?;
        let spec = TableSpec::parse(&table).map_err(|e| bad(e.evalue))?;
        if spec.has_ref() || spec.metadata.is_some() || spec.snapshot.is_some() {
            return Err(bad(format!(
                "DESCRIBE EXTENDED describes a table as it is on the session's reference; \
                 write DESCRIBE EXTENDED {schema}.{} (USE REFERENCE switches the reference)",
                spec.table
            )));
        }
        let ident = TableIdent::new(catalog::namespace(&schema), table.clone());
        match self.catalog.iceberg().load_table(&ident).await {
            Ok(t) => Ok(t),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::TableNotFound | ErrorKind::NamespaceNotFound
                ) =>
            {
                let _ = self.catalog.refresh().await;
                Err(errors::unknown_table(
                    &format!("{schema}.{table}"),
                    &self.catalog.listing(),
                ))
            }
            Err(e) => Err(errors::catalog(
                &format!("cannot load table {schema}.{table}"),
                e,
            )),
        }
    }
}

/// Spark's name of an Iceberg type (`long` is `bigint`, `timestamptz` is `timestamp`).
fn spark_type(t: &Type) -> String {
    match t {
        Type::Primitive(p) => match p {
            PrimitiveType::Long => "bigint".into(),
            PrimitiveType::Timestamptz | PrimitiveType::TimestamptzNs => "timestamp".into(),
            PrimitiveType::Timestamp | PrimitiveType::TimestampNs => "timestamp_ntz".into(),
            PrimitiveType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            other => other.to_string(),
        },
        Type::List(l) => format!("array<{}>", spark_type(&l.element_field.field_type)),
        Type::Map(m) => format!(
            "map<{}, {}>",
            spark_type(&m.key_field.field_type),
            spark_type(&m.value_field.field_type)
        ),
        Type::Struct(s) => {
            let inner: Vec<String> = s
                .fields()
                .iter()
                .map(|f| format!("{}: {}", f.name, spark_type(&f.field_type)))
                .collect();
            format!("struct<{}>", inner.join(", "))
        }
    }
}

/// A partition field as it is written in `PARTITIONED BY` (`days(ts)`, `bucket(16, id)`).
pub(crate) fn transform_sql(transform: &Transform, column: &str) -> String {
    match transform {
        Transform::Identity => column.to_string(),
        Transform::Year => format!("years({column})"),
        Transform::Month => format!("months({column})"),
        Transform::Day => format!("days({column})"),
        Transform::Hour => format!("hours({column})"),
        Transform::Bucket(n) => format!("bucket({n}, {column})"),
        Transform::Truncate(w) => format!("truncate({w}, {column})"),
        Transform::Void => format!("void({column})"),
        Transform::Unknown => format!("unknown({column})"),
    }
}

/// The rows of DESCRIBE EXTENDED.
fn describe_rows(table: &Table) -> Vec<Vec<String>> {
    let meta = table.metadata();
    let schema = meta.current_schema();
    let row = |a: &str, b: String, c: &str| vec![a.to_string(), b, c.to_string()];
    let mut rows: Vec<Vec<String>> = schema
        .as_struct()
        .fields()
        .iter()
        .map(|f| {
            vec![
                f.name.clone(),
                spark_type(&f.field_type),
                f.doc.clone().unwrap_or_default(),
            ]
        })
        .collect();
    rows.push(row("", String::new(), ""));
    rows.push(row("# Partitioning", String::new(), ""));
    let spec = meta.default_partition_spec();
    if spec.is_unpartitioned() {
        rows.push(row("Not partitioned", String::new(), ""));
    }
    for (i, f) in spec.fields().iter().enumerate() {
        let column = schema.name_by_field_id(f.source_id).unwrap_or("?");
        rows.push(row(
            &format!("Part {i}"),
            transform_sql(&f.transform, column),
            &f.name,
        ));
    }
    rows.push(row("", String::new(), ""));
    rows.push(row("# Current Snapshot", String::new(), ""));
    match meta.current_snapshot() {
        None => rows.push(row("Snapshot ID", "none (no data written yet)".into(), "")),
        Some(s) => {
            rows.push(row("Snapshot ID", s.snapshot_id().to_string(), ""));
            rows.push(row("Committed at", format_millis(s.timestamp_ms()), ""));
            rows.push(row(
                "Operation",
                s.summary().operation.as_str().to_string(),
                "",
            ));
            let props = &s.summary().additional_properties;
            for (key, label) in [
                ("total-records", "Total records"),
                ("total-data-files", "Total data files"),
                ("total-files-size", "Total size (bytes)"),
                ("added-records", "Added records"),
            ] {
                if let Some(v) = props.get(key) {
                    rows.push(row(label, v.clone(), ""));
                }
            }
            if let Some(p) = s.parent_snapshot_id() {
                rows.push(row("Parent snapshot ID", p.to_string(), ""));
            }
        }
    }
    rows.push(row("Snapshots", meta.snapshots().len().to_string(), ""));
    rows.push(row("", String::new(), ""));
    rows.push(row("# Detailed Table Information", String::new(), ""));
    let ident = table.identifier();
    rows.push(row(
        "Name",
        format!(
            "{CATALOG_NAME}.{}.{}",
            catalog::schema_name(ident.namespace()),
            ident.name()
        ),
        "",
    ));
    rows.push(row("Provider", "iceberg".into(), ""));
    rows.push(row("Location", meta.location().to_string(), ""));
    rows.push(row(
        "Format version",
        (meta.format_version() as u8).to_string(),
        "",
    ));
    rows.push(row("Table UUID", meta.uuid().to_string(), ""));
    rows.push(row(
        "Last updated",
        format_millis(meta.last_updated_ms()),
        "",
    ));
    let order = meta.default_sort_order();
    if !order.fields.is_empty() {
        let keys: Vec<String> = order
            .fields
            .iter()
            .map(|f| {
                let column = schema.name_by_field_id(f.source_id).unwrap_or("?");
                format!("{} {}", transform_sql(&f.transform, column), f.direction)
            })
            .collect();
        rows.push(row("Sort order", keys.join(", "), ""));
    }
    let mut props: Vec<(&String, &String)> = meta.properties().iter().collect();
    props.sort();
    let props: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
    rows.push(row(
        "Table Properties",
        format!("[{}]", props.join(",")),
        "",
    ));
    rows
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{column_names, engine, last_table, rows, run, tempdir};
    use super::{matches_like, parse, Describe};

    #[test]
    fn recognizes_its_statements_only() {
        assert_eq!(
            parse("SHOW DATABASES").unwrap().unwrap(),
            Describe::Schemas { like: None }
        );
        assert_eq!(
            parse("show schemas in lakehouse like 'de*';")
                .unwrap()
                .unwrap(),
            Describe::Schemas {
                like: Some("de*".into())
            }
        );
        assert!(parse("SHOW SCHEMAS LIKE demo").unwrap().is_err());
        assert!(parse("SHOW TABLES").is_none());
        assert!(parse("DESCRIBE demo.events").is_none());
        assert_eq!(
            parse("DESCRIBE TABLE EXTENDED demo.`my t`")
                .unwrap()
                .unwrap(),
            Describe::Extended {
                name: "demo.`my t`".into()
            }
        );
        assert_eq!(
            parse("desc formatted t").unwrap().unwrap(),
            Describe::Extended { name: "t".into() }
        );
        assert!(
            parse("DESCRIBE EXTENDED").is_none() || parse("DESCRIBE EXTENDED").unwrap().is_err()
        );
        assert!(matches_like("de*", "demo"));
        assert!(matches_like("x|demo", "demo"));
        assert!(!matches_like("de*", "sales"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn show_databases_and_describe_extended() {
        let dir = tempdir("describe");
        let e = engine(&dir).await;
        let (_, r) = run(
            &e,
            "CREATE SCHEMA demo; CREATE SCHEMA sales;
             CREATE TABLE demo.events (customer_id STRING, n BIGINT, ts TIMESTAMP);
             INSERT INTO demo.events VALUES ('c1', 1, TIMESTAMP '2025-01-16 10:00:00')",
        )
        .await;
        r.unwrap();
        let (outs, r) = run(&e, "SHOW DATABASES").await;
        r.unwrap();
        let t = last_table(&outs);
        assert_eq!(t.schema.field(0).name(), "namespace");
        let names: Vec<String> = rows(t).into_iter().map(|r| r[0].clone()).collect();
        assert!(names.contains(&"demo".to_string()) && names.contains(&"sales".to_string()));
        let (outs, r) = run(&e, "SHOW SCHEMAS LIKE 'sa*'").await;
        r.unwrap();
        assert_eq!(rows(last_table(&outs)), [["sales"]]);

        let (outs, r) = run(&e, "DESCRIBE TABLE EXTENDED demo.events").await;
        r.unwrap();
        let t = last_table(&outs);
        let names = column_names(t);
        assert_eq!(names, ["col_name", "data_type", "comment"]);
        let rows = rows(t);
        assert_eq!(rows[0][..2], ["customer_id", "string"]);
        assert_eq!(rows[1][..2], ["n", "bigint"]);
        assert_eq!(rows[2][..2], ["ts", "timestamp_ntz"]);
        let value = |k: &str| {
            rows.iter()
                .find(|r| r[0] == k)
                .map(|r| r[1].clone())
                .unwrap_or_else(|| panic!("no row {k} in {rows:?}"))
        };
        assert_eq!(value("Operation"), "append");
        assert_eq!(value("Total records"), "1");
        assert_eq!(value("Provider"), "iceberg");
        assert_eq!(value("Name"), "lakehouse.demo.events");
        assert_eq!(value("Format version"), "2");
        assert!(value("Snapshot ID").parse::<i64>().is_ok());
        assert!(value("Location").contains("events"));
        assert!(value("Table Properties").contains("commit.retry.num-retries=10"));
        assert!(rows.iter().any(|r| r[0] == "Not partitioned"));
        // Plain DESCRIBE is DataFusion's and keeps working.
        let (outs, r) = run(&e, "DESCRIBE demo.events").await;
        r.unwrap();
        assert_eq!(last_table(&outs).total_rows, 3);
        let (_, r) = run(&e, "DESCRIBE EXTENDED demo.nope").await;
        let err = r.unwrap_err();
        assert_eq!(err.ename(), "TableNotFound");
        assert!(err.evalue.contains("demo.events"), "{}", err.evalue);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
