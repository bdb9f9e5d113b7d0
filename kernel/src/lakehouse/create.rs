//! CREATE TABLE: a new Iceberg table with its schema, partition spec and properties, and for
//! CREATE TABLE AS the rows of a query in its first snapshot (or no table at all if writing
//! them fails).

use std::collections::HashMap;

use datafusion::arrow::datatypes::Schema as ArrowSchema;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use iceberg::arrow::arrow_schema_to_schema_auto_assign_ids;
use iceberg::spec::{DataFile, Schema, UnboundPartitionSpec};
use iceberg::table::Table;
use iceberg::{Catalog, TableCreation, TableIdent};

use super::append::fast_append;
use super::data_files::write_data_files;
use super::{LakehouseError, Result};
use crate::catalog;

/// Table properties every new table gets.
pub fn default_properties() -> HashMap<String, String> {
    // Notebooks of a team append to shared tables at the same time; Iceberg's default of
    // 4 commit retries gives up too early under that contention (Java reads the same key).
    HashMap::from([("commit.retry.num-retries".to_string(), "10".to_string())])
}

/// `schema.table` for a table identifier, as messages name it.
pub fn display_name(ident: &TableIdent) -> String {
    format!(
        "{}.{}",
        catalog::schema_name(ident.namespace()),
        ident.name()
    )
}

/// The Iceberg schema (with fresh field ids) for the columns of table `table` as DataFusion
/// planned them; types Iceberg has no counterpart for are an error naming the column.
pub fn table_schema(arrow: &ArrowSchema, table: &str) -> Result<Schema> {
    let arrow = catalog::iceberg_compatible(arrow).map_err(|e| {
        LakehouseError::UnstorableType(format!("cannot create table {table}: {}", e.evalue))
    })?;
    arrow_schema_to_schema_auto_assign_ids(&arrow)
        .map_err(|e| LakehouseError::iceberg(format!("cannot create table {table}"), e))
}

/// Whether table `ident` exists; its schema must exist ([`LakehouseError::SchemaNotFound`]).
pub async fn table_exists(catalog: &dyn Catalog, ident: &TableIdent) -> Result<bool> {
    let schema = catalog::schema_name(ident.namespace());
    let has_schema = catalog
        .namespace_exists(ident.namespace())
        .await
        .map_err(|e| LakehouseError::iceberg(format!("cannot check schema {schema}"), e))?;
    if !has_schema {
        return Err(LakehouseError::SchemaNotFound { schema });
    }
    catalog.table_exists(ident).await.map_err(|e| {
        LakehouseError::iceberg(format!("cannot check table {}", display_name(ident)), e)
    })
}

/// A table to create.
#[derive(Debug, Clone)]
pub struct CreateTable {
    pub ident: TableIdent,
    pub schema: Schema,
    pub partition_spec: Option<UnboundPartitionSpec>,
    /// The user's table properties, over [`default_properties`].
    pub properties: HashMap<String, String>,
}

impl CreateTable {
    /// An unpartitioned table with no properties of its own.
    pub fn new(ident: TableIdent, schema: Schema) -> CreateTable {
        CreateTable {
            ident,
            schema,
            partition_spec: None,
            properties: HashMap::new(),
        }
    }

    /// Creates the empty table. Names that would put its files outside its folder are
    /// refused first (the catalog builds the folder from them).
    pub async fn create(&self, catalog: &dyn Catalog) -> Result<()> {
        let name = display_name(&self.ident);
        catalog::check_schema_name(&catalog::schema_name(self.ident.namespace()))
            .map_err(|e| LakehouseError::InvalidName(e.evalue))?;
        catalog::check_table_name(self.ident.name())
            .map_err(|e| LakehouseError::InvalidName(e.evalue))?;
        let mut properties = default_properties();
        properties.extend(self.properties.clone());
        // A reserved property to iceberg-rust (it is the metadata's format version, not a
        // property); Spark's DDL sets it, and v2 is what the kernel writes.
        match properties.remove("format-version").as_deref() {
            None | Some("2") => {}
            Some(other) => {
                return Err(LakehouseError::InvalidProperty(format!(
                    "TBLPROPERTIES ('format-version' = '{other}') of {name}: the kernel creates Iceberg format version 2 tables; leave the property out or set it to '2'"
                )))
            }
        }
        super::write_properties::writer_properties(&properties).map_err(|e| {
            LakehouseError::InvalidProperty(format!("cannot create table {name}: {e}"))
        })?;
        let creation = TableCreation::builder()
            .name(self.ident.name().to_string())
            .schema(self.schema.clone())
            .partition_spec_opt(self.partition_spec.clone())
            .properties(properties)
            .build();
        catalog
            .create_table(self.ident.namespace(), creation)
            .await
            .map_err(|e| LakehouseError::iceberg(format!("cannot create table {name}"), e))?;
        Ok(())
    }

    /// CREATE TABLE AS: creates the table, then writes the rows of `input` (planned in
    /// `state`) into it with an append whose snapshot records `summary`. If writing fails the
    /// new table is dropped again, so a failure leaves nothing behind. Returns the rows
    /// written.
    pub async fn create_as(
        &self,
        catalog: &dyn Catalog,
        state: &SessionState,
        input: LogicalPlan,
        summary: &HashMap<String, String>,
    ) -> Result<u64> {
        self.create(catalog).await?;
        match self.insert(catalog, state, input, summary).await {
            Ok(rows) => Ok(rows),
            Err(e) => {
                let _ = catalog.drop_table(&self.ident).await;
                Err(e)
            }
        }
    }

    async fn insert(
        &self,
        catalog: &dyn Catalog,
        state: &SessionState,
        input: LogicalPlan,
        summary: &HashMap<String, String>,
    ) -> Result<u64> {
        let name = display_name(&self.ident);
        let created: Table = catalog
            .load_table(&self.ident)
            .await
            .map_err(|e| LakehouseError::iceberg(format!("cannot load table {name}"), e))?;
        let files = write_data_files(state, &created, input).await?;
        let rows: u64 = files.iter().map(DataFile::record_count).sum();
        fast_append(catalog, &created, files, summary)
            .await
            .map_err(|e| LakehouseError::iceberg(format!("cannot write table {name}"), e))?;
        Ok(rows)
    }
}
