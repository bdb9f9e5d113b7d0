//! Partition specs from (column, transform) pairs, named as Iceberg's Spark DDL names them.

use iceberg::spec::{
    PartitionSpec, Schema, Transform, UnboundPartitionField, UnboundPartitionSpec,
};

use super::{LakehouseError, Result};

/// One partition field to create: a source column and its transform.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionField {
    pub column: String,
    pub transform: Transform,
    /// The field as the user wrote it (`bucket(16, id)`), for messages.
    pub written: String,
}

/// The partition field name Iceberg's Spark DDL gives a transform of `col`.
pub fn partition_field_name(col: &str, t: &Transform) -> String {
    match t {
        Transform::Identity => col.to_string(),
        Transform::Year => format!("{col}_year"),
        Transform::Month => format!("{col}_month"),
        Transform::Day => format!("{col}_day"),
        Transform::Hour => format!("{col}_hour"),
        Transform::Bucket(_) => format!("{col}_bucket"),
        Transform::Truncate(_) => format!("{col}_trunc"),
        _ => format!("{col}_{t}"),
    }
}

/// Builds the partition spec of `fields` over `schema` (of table `table`, for messages), with
/// field ids left for the catalog to assign; `None` when there are no fields. Unknown columns
/// and transforms that do not fit a column's type are [`LakehouseError::Partition`] errors
/// naming them.
pub fn partition_spec(
    schema: &Schema,
    fields: &[PartitionField],
    table: &str,
) -> Result<Option<UnboundPartitionSpec>> {
    if fields.is_empty() {
        return Ok(None);
    }
    let columns = || {
        schema
            .as_struct()
            .fields()
            .iter()
            .map(|f| f.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bad = LakehouseError::Partition;
    let mut builder = PartitionSpec::builder(schema.clone());
    for field in fields {
        let col = &field.column;
        if schema.field_by_name(col).is_none() {
            return Err(bad(format!(
                "PARTITIONED BY names column '{col}', which {table} does not have; its columns: {}",
                columns()
            )));
        }
        let name = partition_field_name(col, &field.transform);
        builder = builder
            .add_partition_field(col, name, field.transform)
            .map_err(|e| {
                bad(format!(
                    "cannot partition {table} by {}: {}",
                    field.written,
                    e.message()
                ))
            })?;
    }
    let spec = builder
        .build()
        .map_err(|e| bad(format!("cannot partition {table}: {}", e.message())))?;
    let fields = spec.fields().iter().map(|f| UnboundPartitionField {
        source_id: f.source_id,
        field_id: None,
        name: f.name.clone(),
        transform: f.transform,
    });
    UnboundPartitionSpec::builder()
        .add_partition_fields(fields)
        .map(|b| Some(b.build()))
        .map_err(|e| bad(format!("cannot partition {table}: {}", e.message())))
}
