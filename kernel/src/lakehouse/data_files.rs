//! Writing rows as data files of an Iceberg table without committing them: every operation
//! that adds rows (append, overwrite, the rows a DELETE keeps, CREATE TABLE AS, replace) writes
//! through here, then commits the files its own way.
//!
//! The files are written by iceberg-datafusion's own writer (its INSERT plan, cut below its
//! commit node), so partitioned tables and every transform work as they do for INSERT INTO.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::CatalogProvider;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use iceberg::spec::{deserialize_data_file_from_json, DataFile};
use iceberg::table::Table;
use iceberg::Error;
use iceberg_datafusion::IcebergCatalogProvider;

use super::fixed_catalog::FixedCatalog;
use crate::catalog;

/// Writes the rows of `input` as data files of `table` (its schema, partition spec and
/// properties), through iceberg-datafusion's INSERT plan cut below its commit node: nothing is
/// committed. The files are the caller's to commit, or orphans if it fails.
pub async fn write_data_files(
    state: &SessionState,
    table: &Table,
    input: LogicalPlan,
) -> datafusion::error::Result<Vec<DataFile>> {
    let external = |e: Error| DataFusionError::External(Box::new(e));
    let fixed = Arc::new(FixedCatalog {
        table: table.clone(),
    });
    let provider = IcebergCatalogProvider::try_new(fixed)
        .await
        .map_err(external)?;
    let ident = table.identifier();
    let schema_name = catalog::schema_name(ident.namespace());
    let missing = || DataFusionError::Internal(format!("table {ident} vanished from its view"));
    let target = provider
        .schema(&schema_name)
        .ok_or_else(missing)?
        .table(ident.name())
        .await?
        .ok_or_else(missing)?;
    let input = state.create_physical_plan(&input).await?;
    // iceberg-datafusion's partitioned writer wants the table's schema exactly (types and
    // nullability): a `SELECT 1, 'x'` has non-null columns, and CTAS or kept DELETE rows may
    // have other string or timestamp types.
    let schema = Arc::new(
        iceberg::arrow::schema_to_arrow_schema(table.metadata().current_schema())
            .map_err(external)?,
    );
    if schema.fields().len() != input.schema().fields().len() {
        return Err(DataFusionError::Plan(format!(
            "{ident} has {} columns but the query gives {}",
            schema.fields().len(),
            input.schema().fields().len()
        )));
    }
    let input = Arc::new(ConformExec::new(input, schema));
    let physical = target.insert_into(state, input, InsertOp::Append).await?;
    let writer = below_commit(&physical).ok_or_else(|| {
        DataFusionError::Internal(
            "iceberg-datafusion's INSERT plan has no IcebergCommitExec: cannot write files for this commit"
                .into(),
        )
    })?;
    let batches = datafusion::physical_plan::collect(writer, state.task_ctx()).await?;
    let meta = table.metadata();
    let mut files = Vec::new();
    for b in &batches {
        let Some(col) = b.column(0).as_string_opt::<i32>() else {
            return Err(DataFusionError::Internal(
                "IcebergWriteExec returned no data_files column".into(),
            ));
        };
        for json in col.iter().flatten() {
            files.push(
                deserialize_data_file_from_json(
                    json,
                    meta.default_partition_spec_id(),
                    meta.default_partition_type(),
                    meta.current_schema(),
                )
                .map_err(external)?,
            );
        }
    }
    Ok(files)
}

/// Gives its input's batches the table's schema: columns by position, cast where the type
/// differs, every column nullable as Iceberg's optional columns are.
#[derive(Debug)]
struct ConformExec {
    input: Arc<dyn ExecutionPlan>,
    schema: datafusion::arrow::datatypes::SchemaRef,
    properties: Arc<datafusion::physical_plan::PlanProperties>,
}

impl ConformExec {
    fn new(
        input: Arc<dyn ExecutionPlan>,
        schema: datafusion::arrow::datatypes::SchemaRef,
    ) -> ConformExec {
        use datafusion::physical_plan::ExecutionPlanProperties;
        let properties = Arc::new(datafusion::physical_plan::PlanProperties::new(
            datafusion::physical_expr::EquivalenceProperties::new(schema.clone()),
            input.output_partitioning().clone(),
            datafusion::physical_plan::execution_plan::EmissionType::Incremental,
            datafusion::physical_plan::execution_plan::Boundedness::Bounded,
        ));
        ConformExec {
            input,
            schema,
            properties,
        }
    }
}

impl datafusion::physical_plan::DisplayAs for ConformExec {
    fn fmt_as(
        &self,
        _t: datafusion::physical_plan::DisplayFormatType,
        f: &mut std::fmt::Formatter,
    ) -> std::fmt::Result {
        write!(f, "ConformExec")
    }
}

impl ExecutionPlan for ConformExec {
    fn name(&self) -> &str {
        "ConformExec"
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn properties(&self) -> &Arc<datafusion::physical_plan::PlanProperties> {
        &self.properties
    }
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let child = children
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Internal("ConformExec needs one child".into()))?;
        Ok(Arc::new(ConformExec::new(child, self.schema.clone())))
    }
    fn execute(
        &self,
        partition: usize,
        context: Arc<datafusion::execution::TaskContext>,
    ) -> datafusion::error::Result<datafusion::execution::SendableRecordBatchStream> {
        use futures::StreamExt;
        let schema = self.schema.clone();
        let stream = self.input.execute(partition, context)?;
        let out = schema.clone();
        let mapped = stream.map(move |batch| Ok(conform(&batch?, &schema)?));
        Ok(Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(out, mapped),
        ))
    }
}

/// `batch` with `schema`'s column types, cast where they differ (a file written before a type
/// promotion has the older type; a query's column may be a view of a string).
pub(super) fn conform(
    batch: &RecordBatch,
    schema: &datafusion::arrow::datatypes::SchemaRef,
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                datafusion::arrow::compute::cast(c, f.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

/// The input of the plan's `IcebergCommitExec`: the writers, which return the data files.
fn below_commit(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    if plan.name() == "IcebergCommitExec" {
        return plan.children().first().copied().cloned();
    }
    plan.children().into_iter().find_map(below_commit)
}

/// Deletes files a failed statement wrote; failures are only logged (they are orphans, not
/// part of any snapshot).
pub async fn delete_quietly(file_io: &iceberg::io::FileIO, paths: &[String]) {
    for p in paths {
        if let Err(e) = file_io.delete(p).await {
            log::warn!("cannot delete {p} after a failed commit: {e}");
        }
    }
}
