//! Schemas and tables by name: CREATE / DROP SCHEMA, DROP TABLE, and resolving
//! `[catalog.]schema.table` with the session's defaults.

use std::collections::HashMap;

use datafusion::common::TableReference;
use datafusion::sql::parser::Statement;
use iceberg::TableIdent;
use tokio::sync::mpsc::UnboundedSender;

use super::super::errors;
use super::super::{Output, SqlEngine};
use crate::catalog::{self, CATALOG_NAME};
use crate::error::{CellError, ErrorKind};

impl SqlEngine {
    pub(in super::super) async fn create_schema(
        &self,
        name: &str,
        if_not_exists: bool,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        // Its levels become folders of the warehouse (checked first: Nessie cannot even look
        // up a namespace with an empty level).
        catalog::check_schema_name(name)?;
        let cat = self.write_catalog(&self.commit_lineage());
        let ns = catalog::namespace(name);
        let exists = cat
            .namespace_exists(&ns)
            .await
            .map_err(|e| errors::catalog(&format!("cannot check schema {name}"), e))?;
        let msg = if exists {
            if !if_not_exists {
                return Err(CellError::new(
                    ErrorKind::Catalog,
                    format!("schema {name} already exists; use CREATE SCHEMA IF NOT EXISTS {name} to skip it"),
                ));
            }
            format!("Schema {name} already exists")
        } else {
            // Parents first, as Nessie and Spark's catalogs keep them (`a` for `a.b`), so
            // every level can be listed.
            for level in 1..ns.len() {
                let parent = iceberg::NamespaceIdent::from_vec(ns[..level].to_vec())
                    .map_err(|e| errors::catalog(&format!("cannot create schema {name}"), e))?;
                if cat.namespace_exists(&parent).await.unwrap_or(false) {
                    continue;
                }
                if let Err(e) = cat.create_namespace(&parent, HashMap::new()).await {
                    // Another kernel may create it at the same moment.
                    if !cat.namespace_exists(&parent).await.unwrap_or(false) {
                        return Err(errors::catalog(&format!("cannot create schema {name}"), e));
                    }
                }
            }
            cat.create_namespace(&ns, HashMap::new())
                .await
                .map_err(|e| errors::catalog(&format!("cannot create schema {name}"), e))?;
            format!("Created schema {name}")
        };
        self.refresh_after_ddl().await;
        let _ = out.send(Output::Message(msg));
        Ok(())
    }

    pub(in super::super) async fn drop_schema(
        &self,
        name: &str,
        if_exists: bool,
        cascade: bool,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        let cat = self.write_catalog(&self.commit_lineage());
        let ns = catalog::namespace(name);
        let exists = cat
            .namespace_exists(&ns)
            .await
            .map_err(|e| errors::catalog(&format!("cannot check schema {name}"), e))?;
        if !exists {
            if if_exists {
                let _ = out.send(Output::Message(format!("Schema {name} does not exist")));
                return Ok(());
            }
            return Err(errors::unknown_schema(name, &self.catalog));
        }
        let tables = cat
            .list_tables(&ns)
            .await
            .map_err(|e| errors::catalog(&format!("cannot list schema {name}"), e))?;
        if !tables.is_empty() && !cascade {
            let names: Vec<_> = tables.iter().map(|t| t.name().to_string()).collect();
            return Err(CellError::new(
                ErrorKind::Catalog,
                format!(
                    "schema {name} is not empty (tables: {}); drop them first or use DROP SCHEMA {name} CASCADE",
                    names.join(", ")
                ),
            ));
        }
        for t in &tables {
            cat.drop_table(t)
                .await
                .map_err(|e| errors::catalog(&format!("cannot drop table {t}"), e))?;
        }
        cat.drop_namespace(&ns)
            .await
            .map_err(|e| errors::catalog(&format!("cannot drop schema {name}"), e))?;
        self.refresh_after_ddl().await;
        let _ = out.send(Output::Message(format!("Dropped schema {name}")));
        Ok(())
    }

    pub(in super::super) async fn drop_table(
        &self,
        schema: &str,
        table: &str,
        if_exists: bool,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        let cat = self.write_catalog(&self.commit_lineage());
        let ident = TableIdent::new(catalog::namespace(schema), table.to_string());
        let name = format!("{schema}.{table}");
        let exists = cat.table_exists(&ident).await.unwrap_or(false);
        if !exists {
            if if_exists {
                let _ = out.send(Output::Message(format!("Table {name} does not exist")));
                return Ok(());
            }
            return Err(errors::unknown_table(&name, &self.catalog.listing()));
        }
        cat.drop_table(&ident)
            .await
            .map_err(|e| errors::catalog(&format!("cannot drop table {name}"), e))?;
        self.refresh_after_ddl().await;
        let _ = out.send(Output::Message(format!("Dropped table {name}")));
        Ok(())
    }

    pub(in super::super) async fn refresh_after_ddl(&self) {
        // Best effort: the next statement that names a table refreshes again anyway.
        let _ = self.catalog.refresh().await;
        self.assist.invalidate();
    }

    /// `[catalog.]schema.table` → (schema, table), with the session's defaults.
    pub(in super::super) fn resolve(
        &self,
        r: &TableReference,
    ) -> Result<(String, String), CellError> {
        match r {
            TableReference::Bare { table } => {
                Ok((self.settings.default_schema.clone(), table.to_string()))
            }
            TableReference::Partial { schema, table } => {
                Ok((schema.to_string(), table.to_string()))
            }
            TableReference::Full {
                catalog,
                schema,
                table,
            } => {
                self.check_catalog(catalog)?;
                Ok((schema.to_string(), table.to_string()))
            }
        }
    }

    /// The identifiers of the name a `CREATE SCHEMA` statement gives, as written
    /// (normalized as the planner would); `None` for any other statement. DataFusion's plan
    /// joins them with '.', which makes a quoted `` `a.b` `` look like catalog `a`, schema `b`.
    pub(in super::super) fn schema_name_parts(&self, statement: &Statement) -> Option<Vec<String>> {
        use datafusion::sql::sqlparser::ast::{SchemaName, Statement as S};
        let Statement::Statement(s) = statement else {
            return None;
        };
        let S::CreateSchema {
            schema_name: SchemaName::Simple(n) | SchemaName::NamedAuthorization(n, _),
            ..
        } = s.as_ref()
        else {
            return None;
        };
        let normalize = self.sql_parser_option(|o| o.enable_ident_normalization);
        let normalizer = datafusion::sql::planner::IdentNormalizer::new(normalize);
        n.0.iter()
            .map(|p| p.as_ident().map(|i| normalizer.normalize(i.clone())))
            .collect()
    }

    /// The schema a CREATE SCHEMA names, from its identifiers ([`Self::schema_name_parts`]):
    /// one identifier is the schema whatever it holds (`` `a.b` `` is schema `a.b`, whose
    /// levels are `a` and `b`); with more, the first is the catalog. `joined` is the plan's
    /// name, for statements whose parts are not known.
    pub(in super::super) fn schema_to_create(
        &self,
        parts: Option<Vec<String>>,
        joined: &str,
    ) -> Result<String, CellError> {
        match parts.as_deref() {
            Some([one]) => Ok(one.clone()),
            Some([cat, rest @ ..]) => {
                self.check_catalog(cat)?;
                Ok(rest.join("."))
            }
            _ => self.strip_catalog(joined),
        }
    }

    fn strip_catalog(&self, schema_name: &str) -> Result<String, CellError> {
        match schema_name.split_once('.') {
            Some((cat, rest)) if cat == CATALOG_NAME => Ok(rest.to_string()),
            Some((cat, _)) => {
                self.check_catalog(cat)?;
                Ok(schema_name.to_string())
            }
            None => Ok(schema_name.to_string()),
        }
    }

    pub(in super::super) fn check_catalog(&self, name: &str) -> Result<(), CellError> {
        if name == CATALOG_NAME {
            Ok(())
        } else {
            Err(CellError::new(
                ErrorKind::Catalog,
                format!(
                    "unknown catalog '{name}'; the catalog is '{CATALOG_NAME}' (or leave it out)"
                ),
            ))
        }
    }

    pub(in super::super) fn is_session_object(&self, r: &TableReference) -> bool {
        let Ok((schema, table)) = self.resolve(r) else {
            return false;
        };
        self.catalog
            .session_objects()
            .contains(&format!("{schema}.{table}"))
    }
}
