//! CREATE OR REPLACE TABLE on an existing table: the same table (uuid, history and old
//! snapshots kept) gets the new schema, spec and properties where they differ and one new
//! snapshot holding only the new rows — all in one commit, as Iceberg's replace does.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use iceberg::spec::{
    DataFile, ListType, MapType, NestedField, NestedFieldRef, Operation, Schema, StructType, Type,
};
use iceberg::{Error, Result as IceResult, TableUpdate};

use super::data_files::write_data_files;
use super::partition::{partition_spec, PartitionField};
use super::snapshot::{self, Removal, SnapshotChange, StagedCommit};
use super::{LakehouseError, Result, TableTarget};

/// What a replace gives the table.
#[derive(Debug, Clone)]
pub struct ReplaceTable {
    /// The new columns (their ids are reassigned against the table's, see
    /// [`replacement_schema`]).
    pub schema: Schema,
    /// The new partitioning (none: unpartitioned).
    pub partition: Vec<PartitionField>,
    /// Table properties to set (others are kept).
    pub properties: HashMap<String, String>,
}

/// What a replace did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    /// The table had no snapshot, no rows were given and nothing else differed: no commit.
    Unchanged,
    /// Committed, with this many rows in the new snapshot.
    Rows(u64),
}

impl ReplaceTable {
    /// Replaces `target` with this definition and the rows of `query` (planned in `state`),
    /// if any.
    pub async fn run(
        &self,
        target: &TableTarget,
        state: &SessionState,
        query: Option<LogicalPlan>,
    ) -> Result<Replaced> {
        target.require_custom_commits("CREATE OR REPLACE TABLE")?;
        let name = &target.name;
        let base = target.load().await?;
        let meta = base.metadata();
        let cat_err = |e: Error| LakehouseError::iceberg(format!("cannot replace table {name}"), e);
        let new_schema =
            replacement_schema(&self.schema, meta.current_schema(), meta.last_column_id())
                .map_err(cat_err)?;
        let mut pre = vec![];
        if new_schema.as_struct() != meta.current_schema().as_struct() {
            pre.push(TableUpdate::AddSchema {
                schema: new_schema.clone(),
            });
            pre.push(TableUpdate::SetCurrentSchema { schema_id: -1 });
        }
        let spec = partition_spec(&new_schema, &self.partition, name)?.unwrap_or_default();
        let current_spec = meta.default_partition_spec();
        let same_spec = spec.fields().len() == current_spec.fields().len()
            && spec
                .fields()
                .iter()
                .zip(current_spec.fields())
                .all(|(a, b)| {
                    a.source_id == b.source_id && a.transform == b.transform && a.name == b.name
                });
        if !same_spec {
            pre.push(TableUpdate::AddSpec { spec });
            pre.push(TableUpdate::SetDefaultSpec { spec_id: -1 });
        }
        let changed_props: HashMap<String, String> = self
            .properties
            .iter()
            .filter(|(k, v)| meta.properties().get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !changed_props.is_empty() {
            pre.push(TableUpdate::SetProperties {
                updates: changed_props,
            });
        }
        let staged_table = snapshot::stage_metadata(&base, &pre).map_err(cat_err)?;
        let added = match query {
            Some(q) => write_data_files(state, &staged_table, q).await?,
            None => vec![],
        };
        let rows: u64 = added.iter().map(DataFile::record_count).sum();
        if meta.current_snapshot().is_none() && added.is_empty() {
            if pre.is_empty() {
                return Ok(Replaced::Unchanged);
            }
            let mut requirements = snapshot::base_requirements(meta);
            requirements.extend(snapshot::schema_requirements(meta));
            let staged = StagedCommit {
                requirements,
                updates: pre,
                ..Default::default()
            };
            target.commit(&base, staged).await?;
        } else {
            let change = SnapshotChange {
                operation: Operation::Overwrite,
                added,
                removal: Removal::All,
                properties: target.summary.clone(),
            };
            target
                .commit_change(base, Some(staged_table), change, pre, false)
                .await?;
        }
        Ok(Replaced::Rows(rows))
    }
}

/// The new schema with field ids for a replaced table: a top-level column of the same name
/// and primitive type keeps its id, everything else gets ids above the table's last one (as
/// Iceberg's replace transaction reassigns them), so old snapshots keep meaning what they did.
pub fn replacement_schema(
    new: &Schema,
    current: &Schema,
    last_column_id: i32,
) -> IceResult<Schema> {
    let mut next = last_column_id;
    let fields: Vec<NestedFieldRef> = new
        .as_struct()
        .fields()
        .iter()
        .map(|f| match current.field_by_name(&f.name) {
            Some(old)
                if old.field_type == f.field_type
                    && matches!(*f.field_type, Type::Primitive(_)) =>
            {
                let mut kept = f.as_ref().clone();
                kept.id = old.id;
                Arc::new(kept)
            }
            _ => fresh_ids(f, &mut next),
        })
        .collect();
    Schema::builder().with_fields(fields).build()
}

fn fresh_ids(field: &NestedField, next: &mut i32) -> NestedFieldRef {
    *next += 1;
    let id = *next;
    let field_type = match field.field_type.as_ref() {
        Type::Primitive(_) => field.field_type.as_ref().clone(),
        Type::Struct(s) => Type::Struct(StructType::new(
            s.fields().iter().map(|f| fresh_ids(f, next)).collect(),
        )),
        Type::List(l) => Type::List(ListType {
            element_field: fresh_ids(&l.element_field, next),
        }),
        Type::Map(m) => Type::Map(MapType {
            key_field: fresh_ids(&m.key_field, next),
            value_field: fresh_ids(&m.value_field, next),
        }),
    };
    let mut f = field.clone();
    f.id = id;
    f.field_type = Box::new(field_type);
    Arc::new(f)
}
