//! Deciding a DELETE condition for a whole data file from its partition values, without
//! reading the file.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;
use iceberg::spec::Transform;
use iceberg::table::Table;

/// Evaluates a DELETE condition that names only identity-partition columns on a file's
/// partition values: every row of the file has those values, so the file is dropped whole or
/// kept without reading it (`DELETE FROM t WHERE day = DATE '2025-01-16'`).
pub(super) struct PartitionDecider {
    /// The table's columns, all nullable (columns the condition does not name are NULL).
    schema: datafusion::arrow::datatypes::SchemaRef,
    iceberg: iceberg::spec::SchemaRef,
    columns: HashSet<String>,
    eval: Arc<dyn datafusion::physical_expr::PhysicalExpr>,
    /// The table's partition spec, when it has only one (a scan task does not say which
    /// spec its file has).
    spec: Option<iceberg::spec::PartitionSpecRef>,
}

impl PartitionDecider {
    pub(super) fn new(
        state: &SessionState,
        base: &Table,
        predicate: &Expr,
    ) -> Option<PartitionDecider> {
        let iceberg = base.metadata().current_schema().clone();
        let arrow = iceberg::arrow::schema_to_arrow_schema(&iceberg).ok()?;
        let fields: Vec<_> = arrow
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).ok()?;
        let eval = state
            .create_physical_expr(predicate.clone(), &df_schema)
            .ok()?;
        let columns = predicate
            .column_refs()
            .into_iter()
            .map(|c| c.name.clone())
            .collect();
        let meta = base.metadata();
        let spec = (meta.partition_specs_iter().count() == 1)
            .then(|| meta.default_partition_spec().clone());
        Some(PartitionDecider {
            schema,
            iceberg,
            columns,
            eval,
            spec,
        })
    }

    /// `Some(true)`: every row matches; `Some(false)`: none does; `None`: read the file.
    pub(super) fn decide(&self, task: &iceberg::scan::FileScanTask) -> Option<bool> {
        use datafusion::scalar::ScalarValue;
        // Position or equality deletes make the file's record count (and rows) differ.
        if !task.deletes.is_empty() || task.record_count.is_none() {
            return None;
        }
        let spec = task.partition_spec.as_ref().or(self.spec.as_ref())?;
        let partition = task.partition.as_ref()?;
        if partition.fields().len() != spec.fields().len() {
            return None;
        }
        let mut values: HashMap<&str, ScalarValue> = HashMap::new();
        for (field, value) in spec.fields().iter().zip(partition.iter()) {
            if field.transform != Transform::Identity {
                continue;
            }
            let name = self.iceberg.field_by_id(field.source_id)?.name.as_str();
            if !self.columns.contains(name) {
                continue;
            }
            let dt = self.schema.field_with_name(name).ok()?.data_type();
            let v = match value {
                None => ScalarValue::try_from(dt).ok()?,
                Some(l) => scalar(l.as_primitive_literal()?, dt)?,
            };
            values.insert(name, v);
        }
        if !self.columns.iter().all(|c| values.contains_key(c.as_str())) {
            return None;
        }
        let columns = self
            .schema
            .fields()
            .iter()
            .map(|f| match values.get(f.name().as_str()) {
                Some(v) => v.to_array_of_size(1).ok(),
                None => Some(datafusion::arrow::array::new_null_array(f.data_type(), 1)),
            })
            .collect::<Option<Vec<_>>>()?;
        let batch = RecordBatch::try_new(self.schema.clone(), columns).ok()?;
        let v = self.eval.evaluate(&batch).ok()?.into_array(1).ok()?;
        let b = v.as_boolean_opt()?;
        Some(b.is_valid(0) && b.value(0))
    }
}

/// An Iceberg partition value as a DataFusion scalar of the column's Arrow type.
fn scalar(
    p: iceberg::spec::PrimitiveLiteral,
    dt: &DataType,
) -> Option<datafusion::scalar::ScalarValue> {
    use datafusion::scalar::ScalarValue as S;
    use iceberg::spec::PrimitiveLiteral as P;
    let base = match p {
        P::Boolean(b) => S::Boolean(Some(b)),
        P::Int(i) => S::Int32(Some(i)),
        P::Long(l) => S::Int64(Some(l)),
        P::Float(f) => S::Float32(Some(f.0)),
        P::Double(d) => S::Float64(Some(d.0)),
        P::String(s) => S::Utf8(Some(s)),
        P::Binary(b) => S::Binary(Some(b)),
        P::Int128(i) => match dt {
            DataType::Decimal128(p, s) => S::Decimal128(Some(i), *p, *s),
            _ => return None,
        },
        _ => return None,
    };
    // Dates are days and timestamps microseconds: the casts reinterpret, as Iceberg stores them.
    if base.data_type() == *dt {
        Some(base)
    } else {
        base.cast_to(dt).ok()
    }
}
