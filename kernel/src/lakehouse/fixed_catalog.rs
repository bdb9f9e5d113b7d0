//! A read-only `iceberg::Catalog` holding one table as given, for iceberg-datafusion's
//! writer (see [`super::data_files`]).

use std::collections::HashMap;

use async_trait::async_trait;
use iceberg::table::Table;
use iceberg::{
    Catalog, Error, ErrorKind, Namespace, NamespaceIdent, Result as IceResult, TableCommit,
    TableCreation, TableIdent,
};

/// A catalog that holds one table as given (not reloaded): iceberg-datafusion's writer then
/// writes against exactly the metadata the statement's commit is built on — for CREATE OR
/// REPLACE, metadata with the new schema and spec that is not committed yet.
#[derive(Debug)]
pub(super) struct FixedCatalog {
    pub(super) table: Table,
}

impl FixedCatalog {
    fn refuse(&self, what: &str) -> Error {
        Error::new(
            ErrorKind::FeatureUnsupported,
            format!(
                "{what} is not available on the write view of {}",
                self.table.identifier()
            ),
        )
    }
}

#[async_trait]
impl Catalog for FixedCatalog {
    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
    ) -> IceResult<Vec<NamespaceIdent>> {
        Ok(match parent {
            None => vec![self.table.identifier().namespace().clone()],
            Some(_) => vec![],
        })
    }
    async fn create_namespace(
        &self,
        _namespace: &NamespaceIdent,
        _properties: HashMap<String, String>,
    ) -> IceResult<Namespace> {
        Err(self.refuse("create_namespace"))
    }
    async fn get_namespace(&self, namespace: &NamespaceIdent) -> IceResult<Namespace> {
        Ok(Namespace::new(namespace.clone()))
    }
    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> IceResult<bool> {
        Ok(namespace == self.table.identifier().namespace())
    }
    async fn update_namespace(
        &self,
        _namespace: &NamespaceIdent,
        _properties: HashMap<String, String>,
    ) -> IceResult<()> {
        Err(self.refuse("update_namespace"))
    }
    async fn drop_namespace(&self, _namespace: &NamespaceIdent) -> IceResult<()> {
        Err(self.refuse("drop_namespace"))
    }
    async fn list_tables(&self, namespace: &NamespaceIdent) -> IceResult<Vec<TableIdent>> {
        Ok(if namespace == self.table.identifier().namespace() {
            vec![self.table.identifier().clone()]
        } else {
            vec![]
        })
    }
    async fn create_table(
        &self,
        _namespace: &NamespaceIdent,
        _creation: TableCreation,
    ) -> IceResult<Table> {
        Err(self.refuse("create_table"))
    }
    async fn load_table(&self, table: &TableIdent) -> IceResult<Table> {
        if table == self.table.identifier() {
            Ok(self.table.clone())
        } else {
            Err(Error::new(
                ErrorKind::TableNotFound,
                format!("no table {table} here"),
            ))
        }
    }
    async fn drop_table(&self, _table: &TableIdent) -> IceResult<()> {
        Err(self.refuse("drop_table"))
    }
    async fn purge_table(&self, _table: &TableIdent) -> IceResult<()> {
        Err(self.refuse("purge_table"))
    }
    async fn table_exists(&self, table: &TableIdent) -> IceResult<bool> {
        Ok(table == self.table.identifier())
    }
    async fn rename_table(&self, _src: &TableIdent, _dest: &TableIdent) -> IceResult<()> {
        Err(self.refuse("rename_table"))
    }
    async fn register_table(&self, _table: &TableIdent, _location: String) -> IceResult<Table> {
        Err(self.refuse("register_table"))
    }
    async fn update_table(&self, _commit: TableCommit) -> IceResult<Table> {
        // The commit node of the INSERT plan is never executed (see `below_commit`).
        Err(self.refuse("update_table"))
    }
}
