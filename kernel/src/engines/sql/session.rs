//! The SQL session as the Rust cells' bridge sees it ([`crate::engines::Session`]).

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use tokio::sync::mpsc;

use super::{Output, SqlEngine};
use crate::engines::{QueryResult, Session};
use crate::error::{CellError, ErrorKind};

#[async_trait::async_trait]
impl Session for SqlEngine {
    async fn query(&self, sql: &str) -> Result<QueryResult, CellError> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let result = self.execute_keeping(sql, &tx, Some(usize::MAX)).await;
        drop(tx);
        let mut messages = Vec::new();
        let mut rows = None;
        while let Some(o) = rx.recv().await {
            match o {
                Output::Message(m) => messages.push(m),
                Output::Table(t) => rows = Some((t.schema, t.batches)),
                _ => {}
            }
        }
        result.map(|()| QueryResult { messages, rows })
    }

    async fn register_batches(
        &self,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<String, CellError> {
        let valid = !name.is_empty()
            && name.split('.').count() <= 2
            && name
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
        if !valid {
            return Err(CellError::new(
                ErrorKind::Name,
                format!("'{name}' is not a table name to register; use letters, digits and '_', optionally as schema.name"),
            ));
        }
        let reference = TableReference::parse_str(name);
        let (schema_name, table) = self.resolve(&reference)?;
        let full = TableReference::full(super::CATALOG_NAME, schema_name.as_str(), table.as_str());
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        // Spread the batches over the session's partitions so later scans use every core.
        let parts = self.ctx.state().config().target_partitions().max(1);
        let mut partitions = vec![Vec::new(); parts.min(batches.len()).max(1)];
        let n = partitions.len();
        for (i, b) in batches.into_iter().enumerate() {
            partitions[i % n].push(b);
        }
        let table_provider = MemTable::try_new(schema, partitions).map_err(|e| {
            CellError::new(ErrorKind::Register, format!("cannot register {name}: {e}"))
        })?;
        let replaced = self
            .catalog
            .session_objects()
            .contains(&format!("{schema_name}.{table}"));
        if replaced {
            let _ = self.ctx.deregister_table(full.clone());
        }
        self.ctx
            .register_table(full, Arc::new(table_provider))
            .map_err(|e| {
                CellError::new(
                    ErrorKind::Register,
                    format!(
                        "cannot register {schema_name}.{table}: {}",
                        super::errors::plain(&e)
                    ),
                )
            })?;
        self.assist.invalidate();
        Ok(format!(
            "{} {schema_name}.{table} ({rows} row{}) for this session",
            if replaced { "Replaced" } else { "Registered" },
            if rows == 1 { "" } else { "s" }
        ))
    }

    fn parameters(&self) -> Result<RecordBatch, CellError> {
        let all = self.params.all();
        let mut fields = Vec::with_capacity(all.len());
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(all.len());
        for (name, value) in all {
            let array = value.to_array().map_err(|e| {
                CellError::new(ErrorKind::Parameter, format!("parameter {name}: {e}"))
            })?;
            fields.push(Field::new(name, value.data_type(), true));
            columns.push(array);
        }
        RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )
        .map_err(|e| CellError::new(ErrorKind::Parameter, e.to_string()))
    }

    fn settings_rows(&self) -> Vec<(String, String)> {
        let d = self.display();
        let mut rows: Vec<(String, String)> = self
            .settings
            .rows()
            .into_iter()
            .map(|r| (r.env.to_string(), r.value))
            .collect();
        rows.push(("lakehouse.max_rows".into(), d.max_rows.to_string()));
        rows.push((
            "lakehouse.max_col_width".into(),
            d.max_col_width.to_string(),
        ));
        rows.push((
            "lakehouse.reference".into(),
            self.active_reference()
                .unwrap_or_else(|| "(embedded catalog: no references)".into()),
        ));
        rows
    }

    fn max_rows(&self) -> usize {
        self.display().max_rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn engine(name: &str) -> (SqlEngine, std::path::PathBuf) {
        super::super::test_engine(&format!("session-{name}")).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn query_keeps_every_row_and_the_messages() {
        let (e, dir) = engine("query").await;
        let r = e
            .query(
                "CREATE TABLE t AS SELECT * FROM range(1000); SELECT value FROM t ORDER BY value",
            )
            .await
            .unwrap();
        assert_eq!(r.messages, vec!["Created table default.t with 1000 rows"]);
        let (_, batches) = r.rows.unwrap();
        let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert!(n > e.max_rows());
        assert_eq!(n, 1000);
        let err = e.query("SELECT * FROM nope").await.unwrap_err();
        assert_eq!(err.ename(), "TableNotFound");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn registered_batches_are_queryable_and_replaceable() {
        let (e, dir) = engine("register").await;
        let r = e.query("SELECT * FROM range(10)").await.unwrap();
        let (schema, batches) = r.rows.unwrap();
        let msg = e
            .register_batches("feats", schema.clone(), batches.clone())
            .await
            .unwrap();
        assert_eq!(msg, "Registered default.feats (10 rows) for this session");
        let r = e.query("SELECT count(*) AS n FROM feats").await.unwrap();
        let (_, b) = r.rows.unwrap();
        assert_eq!(
            datafusion::arrow::util::display::array_value_to_string(b[0].column(0), 0).unwrap(),
            "10"
        );
        let msg = e
            .register_batches(
                "default.feats",
                schema.clone(),
                vec![batches[0].slice(0, 3)],
            )
            .await
            .unwrap();
        assert!(msg.starts_with("Replaced default.feats (3 rows)"), "{msg}");
        // An Iceberg table of that name is not shadowed.
        e.query("CREATE TABLE real_t (x BIGINT)").await.unwrap();
        let err = e
            .register_batches("real_t", schema.clone(), vec![])
            .await
            .unwrap_err();
        assert!(err.evalue.contains("is an Iceberg table"), "{}", err.evalue);
        let err = e.register_batches("a b", schema, vec![]).await.unwrap_err();
        assert_eq!(err.ename(), "NameError");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parameters_are_one_typed_row() {
        let (e, dir) = engine("params").await;
        e.query("SET n = 5; SET name = 'it''s'; SET flag = true")
            .await
            .unwrap();
        let b = e.parameters().unwrap();
        assert_eq!(b.num_rows(), 1);
        let s = b.schema();
        let names: Vec<_> = s.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, vec!["flag", "n", "name"]);
        assert_eq!(
            b.column_by_name("n").unwrap().data_type(),
            &datafusion::arrow::datatypes::DataType::Int64
        );
        let rows = e.settings_rows();
        assert!(rows
            .iter()
            .any(|(k, v)| k == "lakehouse.max_rows" && v == "50"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
