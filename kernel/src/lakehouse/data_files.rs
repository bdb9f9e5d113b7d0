//! Writing rows as data files of an Iceberg table without committing them: every operation
//! that adds rows (append, overwrite, the rows a DELETE keeps, CREATE TABLE AS, replace) writes
//! through here, then commits the files its own way.
//!
//! The files are written by iceberg-datafusion's own writer (its INSERT plan, cut below its
//! commit node), so partitioned tables and every transform work as they do for INSERT INTO.

use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::CatalogProvider;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::LogicalPlan;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_plan::ExecutionPlan;
use iceberg::spec::DataFile;
use iceberg::table::Table;
use iceberg::Error;
use iceberg_datafusion::IcebergCatalogProvider;

use super::fixed_catalog::FixedCatalog;
use super::write_properties::writer_properties;
use super::LakehouseError;
use crate::catalog;

/// Writes the rows of `input` as data files of `table` (its schema, partition spec and
/// properties), through iceberg-datafusion's INSERT plan cut below its commit node: nothing is
/// committed. The files are the caller's to commit, or orphans if it fails.
pub async fn write_data_files(
    state: &SessionState,
    table: &Table,
    input: LogicalPlan,
) -> datafusion::error::Result<Vec<DataFile>> {
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
    let writer = find(&physical, "IcebergWriteExec").ok_or_else(|| {
        DataFusionError::Internal(
            "iceberg-datafusion's INSERT plan has no IcebergWriteExec: cannot write files for this commit"
                .into(),
        )
    })?;
    // Its input has the rows partitioned, sorted and with their partition values as
    // iceberg-datafusion's writer wants them; the files are written by ours, which honours the
    // table's write.parquet.* properties.
    let rows = writer
        .children()
        .first()
        .copied()
        .cloned()
        .ok_or_else(|| DataFusionError::Internal("IcebergWriteExec has no input".into()))?;
    write_partitions(state, table, rows).await
}

/// Writes each partition of `rows` (the input iceberg-datafusion's `IcebergWriteExec` would
/// have: the table's columns, plus `_partition` for a partitioned table) as data files of
/// `table`, the partitions in parallel.
async fn write_partitions(
    state: &SessionState,
    table: &Table,
    rows: Arc<dyn ExecutionPlan>,
) -> datafusion::error::Result<Vec<DataFile>> {
    use datafusion::common::runtime::SpawnedTask;
    use datafusion::physical_plan::ExecutionPlanProperties;

    let meta = table.metadata();
    let ident = table.identifier();
    let name = format!(
        "{}.{}",
        catalog::schema_name(ident.namespace()),
        ident.name()
    );
    let props = writer_properties(meta.properties()).map_err(|e| {
        DataFusionError::External(Box::new(LakehouseError::InvalidProperty(format!(
            "table {name}: {e}; fix it with ALTER TABLE {name} SET TBLPROPERTIES"
        ))))
    })?;
    let table_props = meta.table_properties().map_err(external)?;
    let partitions = rows.output_partitioning().partition_count();
    let mut tasks = Vec::with_capacity(partitions);
    for partition in 0..partitions {
        let stream = rows.execute(partition, state.task_ctx())?;
        let table = table.clone();
        let props = props.clone();
        let target_size = table_props.write_target_file_size_bytes;
        let fanout = table_props.write_datafusion_fanout_enabled;
        tasks.push(SpawnedTask::spawn(async move {
            write_stream(&table, props, target_size, fanout, stream)
                .await
                .map_err(external)
        }));
    }
    let mut files = Vec::new();
    for task in tasks {
        files.extend(task.join_unwind().await.map_err(|e| {
            DataFusionError::Internal(format!("a data file writer stopped: {e}"))
        })??);
    }
    Ok(files)
}

/// Writes one stream of rows through a rolling Parquet writer per partition value (iceberg's
/// writers, with `props`), returning the files.
async fn write_stream(
    table: &Table,
    props: WriterProperties,
    target_size: usize,
    fanout: bool,
    mut stream: datafusion::execution::SendableRecordBatchStream,
) -> iceberg::Result<Vec<DataFile>> {
    use futures::StreamExt;
    use iceberg::arrow::{FieldMatchMode, RecordBatchPartitionSplitter};
    use iceberg::spec::DataFileFormat;
    use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
    use iceberg::writer::file_writer::location_generator::{
        DefaultFileNameGenerator, DefaultLocationGenerator,
    };
    use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
    use iceberg::writer::file_writer::ParquetWriterBuilder;
    use iceberg::writer::partitioning::clustered_writer::ClusteredWriter;
    use iceberg::writer::partitioning::fanout_writer::FanoutWriter;
    use iceberg::writer::partitioning::unpartitioned_writer::UnpartitionedWriter;
    use iceberg::writer::partitioning::PartitioningWriter;

    let meta = table.metadata();
    let schema = meta.current_schema().clone();
    // Batches from DataFusion carry no field ids: columns are matched by name.
    let parquet =
        ParquetWriterBuilder::new_with_match_mode(props, schema.clone(), FieldMatchMode::Name);
    let rolling = RollingFileWriterBuilder::new(
        parquet,
        target_size,
        table.file_io().clone(),
        DefaultLocationGenerator::new(meta)?,
        DefaultFileNameGenerator::new(
            uuid::Uuid::now_v7().to_string(),
            None,
            DataFileFormat::Parquet,
        ),
    );
    let builder = DataFileWriterBuilder::new(rolling);
    let spec = meta.default_partition_spec().clone();
    if spec.is_unpartitioned() {
        let mut writer = UnpartitionedWriter::new(builder);
        while let Some(batch) = stream.next().await {
            writer.write(batch.map_err(to_iceberg)?).await?;
        }
        return writer.close().await;
    }
    let splitter = RecordBatchPartitionSplitter::try_new_with_precomputed_values(schema, spec)?;
    async fn drain<W: PartitioningWriter>(
        mut writer: W,
        splitter: &RecordBatchPartitionSplitter,
        stream: &mut datafusion::execution::SendableRecordBatchStream,
    ) -> iceberg::Result<Vec<DataFile>> {
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(to_iceberg)?;
            for (key, rows) in splitter.split(&batch)? {
                writer.write(key, rows).await?;
            }
        }
        writer.close().await
    }
    if fanout {
        drain(FanoutWriter::new(builder), &splitter, &mut stream).await
    } else {
        drain(ClusteredWriter::new(builder), &splitter, &mut stream).await
    }
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

/// The first node of `plan` named `name`.
fn find(plan: &Arc<dyn ExecutionPlan>, name: &str) -> Option<Arc<dyn ExecutionPlan>> {
    if plan.name() == name {
        return Some(plan.clone());
    }
    plan.children().into_iter().find_map(|c| find(c, name))
}

fn external(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// A failure of the rows being written, as iceberg's writers return errors.
fn to_iceberg(e: DataFusionError) -> Error {
    Error::new(iceberg::ErrorKind::Unexpected, e.to_string())
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
