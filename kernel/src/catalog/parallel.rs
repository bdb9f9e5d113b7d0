//! Table scans on every core.
//!
//! iceberg-datafusion 0.10's `IcebergTableScan` reports one output partition, so a query
//! over an Iceberg table runs its scan, and everything DataFusion does not repartition
//! after it, on one core. [`ParallelTable`] wraps a table provider: its scan plans the
//! files once (with the same snapshot, projection and filters the inner scan has), splits
//! them into up to `target_partitions` groups of about equal bytes — cutting a large file
//! into byte ranges, which iceberg's reader maps to whole row groups — and reads each group
//! in its own partition with iceberg's `ArrowReader`.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::{Constraints, Statistics};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::ExecutionPlanProperties;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};
use iceberg::arrow::ArrowReaderBuilder;
use iceberg::scan::FileScanTask;
use iceberg::table::Table;
use iceberg_datafusion::physical_plan::IcebergTableScan;

use super::{options, parquet_scan, scan_stats};

/// Byte ranges smaller than this are not split further (a row group is usually larger).
const MIN_SPLIT_BYTES: u64 = 8 * 1024 * 1024;

/// A table provider whose scans read in `target_partitions` partitions.
#[derive(Debug)]
pub struct ParallelTable {
    inner: Arc<dyn TableProvider>,
}

impl ParallelTable {
    /// Wraps `inner` (iceberg-datafusion's table providers; others pass through unchanged).
    pub fn wrap(inner: Arc<dyn TableProvider>) -> Arc<dyn TableProvider> {
        Arc::new(ParallelTable { inner })
    }

    /// The wrapped provider, for code that needs iceberg-datafusion's own type.
    pub fn inner(&self) -> &Arc<dyn TableProvider> {
        &self.inner
    }
}

#[async_trait]
impl TableProvider for ParallelTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.inner.constraints()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn get_table_definition(&self) -> Option<&str> {
        self.inner.get_table_definition()
    }

    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        self.inner.get_logical_plan()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, projection, filters, limit).await?;
        let Some(scan) = plan.as_any().downcast_ref::<IcebergTableScan>() else {
            return Ok(plan);
        };
        let config = state.config();
        let reader = options::iceberg_reader(state.config_options())?;
        let split = SplitScan::plan(
            scan,
            plan.schema(),
            config.target_partitions(),
            config.batch_size(),
            (reader == options::Reader::DataFusion).then_some((state, filters)),
        )
        .await?;
        Ok(Arc::new(split))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        self.inner.insert_into(state, input, insert_op).await
    }

    async fn delete_from(
        &self,
        state: &dyn Session,
        filters: Vec<Expr>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        self.inner.delete_from(state, filters).await
    }

    async fn update(
        &self,
        state: &dyn Session,
        assignments: Vec<(String, Expr)>,
        filters: Vec<Expr>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        self.inner.update(state, assignments, filters).await
    }

    async fn truncate(&self, state: &dyn Session) -> DFResult<Arc<dyn ExecutionPlan>> {
        self.inner.truncate(state).await
    }
}

/// An Iceberg scan whose files are split over several partitions.
pub struct SplitScan {
    table: Table,
    /// The inner scan's description (projection, predicate), for EXPLAIN.
    describe: String,
    groups: Vec<Vec<FileScanTask>>,
    limit: Option<usize>,
    batch_size: usize,
    properties: Arc<PlanProperties>,
    /// From the manifests of the planned files (see `scan_stats`).
    statistics: Statistics,
    /// EXPLAIN ANALYZE's figures: planning time and files (partition 0), and per partition the
    /// file ranges and bytes planned, the time spent fetching and decoding, the rows out.
    metrics: ExecutionPlanMetricsSet,
    /// DataFusion's Parquet reader over the same groups, one partition per group; `None`:
    /// iceberg's reader.
    reader: Option<Arc<dyn ExecutionPlan>>,
}

impl fmt::Debug for SplitScan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplitScan")
            .field("table", self.table.identifier())
            .field("partitions", &self.groups.len())
            .finish()
    }
}

impl SplitScan {
    /// Plans the files of `scan` and splits them into at most `target` groups.
    async fn plan(
        scan: &IcebergTableScan,
        schema: SchemaRef,
        target: usize,
        batch_size: usize,
        datafusion_reader: Option<(&dyn Session, &[Expr])>,
    ) -> DFResult<Self> {
        let started = std::time::Instant::now();
        let table = scan.table().clone();
        let mut builder = match scan.snapshot_id() {
            Some(id) => table.scan().snapshot_id(id),
            None => table.scan(),
        };
        builder = match scan.projection() {
            Some(cols) => builder.select(cols.iter().cloned()),
            None => builder.select_all(),
        };
        if let Some(p) = scan.predicates() {
            builder = builder.with_filter(p.clone());
        }
        let tasks: Vec<FileScanTask> = builder
            .build()
            .map_err(iceberg_datafusion::to_datafusion_error)?
            .plan_files()
            .await
            .map_err(iceberg_datafusion::to_datafusion_error)?
            .try_collect()
            .await
            .map_err(iceberg_datafusion::to_datafusion_error)?;
        let facts = scan_stats::scan_statistics(
            &table,
            scan.snapshot_id(),
            &tasks,
            &schema,
            scan.predicates().is_none(),
        )
        .await;
        let statistics = scan_stats::with_limit(facts.statistics, scan.limit());
        let in_snapshot = facts.files_in_snapshot;
        // DataFusion's reader takes files without deletes that store every column they have
        // (see parquet_scan); a table with a name mapping (files without field ids) stays
        // with iceberg's reader, which applies the mapping.
        let datafusion_reader = datafusion_reader.filter(|_| {
            !facts.identity_column_missing
                && tasks.iter().all(|t| t.deletes.is_empty())
                && !table
                    .metadata()
                    .properties()
                    .contains_key("schema.name-mapping.default")
        });
        let metrics = ExecutionPlanMetricsSet::new();
        MetricBuilder::new(&metrics)
            .counter("files_planned", 0)
            .add(tasks.len());
        if let Some(n) = in_snapshot {
            MetricBuilder::new(&metrics)
                .counter("files_pruned", 0)
                .add(n.saturating_sub(tasks.len()));
        }
        let groups = split(tasks, target.max(1));
        let reader = match datafusion_reader {
            Some((state, filters)) if !groups.is_empty() => Some(datafusion_exec(
                &table, scan, &schema, &groups, state, filters,
            )?),
            _ => None,
        };
        MetricBuilder::new(&metrics)
            .subset_time("time_planning", 0)
            .add_duration(started.elapsed());
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(groups.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        let describe = format!(
            "projection:[{}] predicate:[{}]",
            scan.projection().map(|p| p.join(",")).unwrap_or_default(),
            scan.predicates().map(|p| p.to_string()).unwrap_or_default()
        );
        Ok(SplitScan {
            table,
            describe,
            groups,
            limit: scan.limit(),
            batch_size,
            properties,
            statistics,
            metrics,
            reader,
        })
    }

    /// How many partitions the scan reads in.
    pub fn partitions(&self) -> usize {
        self.groups.len().max(1)
    }
}

/// DataFusion's Parquet reader over `groups`, with the query's filters as its predicate (for
/// pruning and filtering while decoding: the filter above the scan still applies them).
fn datafusion_exec(
    table: &Table,
    scan: &IcebergTableScan,
    schema: &SchemaRef,
    groups: &[Vec<FileScanTask>],
    state: &dyn Session,
    filters: &[Expr],
) -> DFResult<Arc<dyn ExecutionPlan>> {
    let meta = table.metadata();
    let iceberg_schema = match scan.snapshot_id().and_then(|id| meta.snapshot_by_id(id)) {
        Some(s) => s
            .schema(meta)
            .map_err(iceberg_datafusion::to_datafusion_error)?,
        None => meta.current_schema().clone(),
    };
    let table_schema = parquet_scan::table_arrow_schema(&iceberg_schema)?;
    let projection = schema
        .fields()
        .iter()
        .map(|f| table_schema.index_of(f.name()))
        .collect::<Result<Vec<_>, _>>()?;
    let predicate = datafusion::logical_expr::utils::conjunction(filters.to_vec()).and_then(|e| {
        let df_schema =
            datafusion::common::DFSchema::try_from(table_schema.as_ref().clone()).ok()?;
        // A filter this schema cannot plan (a column of another snapshot's schema) is left
        // to the filter above the scan.
        state.create_physical_expr(e, &df_schema).ok()
    });
    parquet_scan::parquet_exec(
        table.file_io(),
        table_schema,
        projection,
        groups,
        predicate,
        scan.limit(),
        &state.config_options().execution.parquet,
    )
}

/// Splits `tasks` into at most `target` groups of about equal bytes: files larger than a
/// group's share are cut into byte ranges first, then the pieces go, largest first, to the
/// group with the fewest bytes.
fn split(tasks: Vec<FileScanTask>, target: usize) -> Vec<Vec<FileScanTask>> {
    if tasks.is_empty() {
        return vec![];
    }
    let total: u64 = tasks.iter().map(task_bytes).sum();
    let share = (total / target as u64).max(MIN_SPLIT_BYTES);
    let mut pieces: Vec<FileScanTask> = vec![];
    for task in tasks {
        let len = task_bytes(&task);
        // Tasks with deletes stay whole: equality deletes are applied per file.
        let n = if task.deletes.is_empty() {
            len.div_ceil(share).clamp(1, target as u64)
        } else {
            1
        };
        if n <= 1 {
            pieces.push(task);
            continue;
        }
        let start = task.start;
        let step = len.div_ceil(n);
        for i in 0..n {
            let from = start + i * step;
            let to = (start + (i + 1) * step).min(start + len);
            if from >= to {
                break;
            }
            let mut piece = task.clone();
            piece.start = from;
            piece.length = to - from;
            piece.record_count = None;
            pieces.push(piece);
        }
    }
    pieces.sort_by_key(|t| std::cmp::Reverse(task_bytes(t)));
    let groups_n = target.min(pieces.len());
    let mut groups: Vec<(u64, Vec<FileScanTask>)> = (0..groups_n).map(|_| (0, vec![])).collect();
    for piece in pieces {
        let g = groups
            .iter_mut()
            .min_by_key(|(bytes, _)| *bytes)
            .expect("at least one group");
        g.0 += task_bytes(&piece);
        g.1.push(piece);
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// The bytes a task covers (its range, or the whole file when no range is set).
fn task_bytes(t: &FileScanTask) -> u64 {
    if t.length > 0 {
        t.length
    } else {
        t.file_size_in_bytes
    }
}

impl DisplayAs for SplitScan {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let files: usize = self.groups.iter().map(Vec::len).sum();
        write!(
            f,
            "IcebergSplitScan partitions:[{}] file_ranges:[{files}] {}",
            self.partitions(),
            self.describe
        )?;
        if self.reader.is_some() {
            write!(f, " reader:[datafusion]")?;
        }
        if let Some(limit) = self.limit {
            write!(f, " limit:[{limit}]")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for SplitScan {
    fn name(&self) -> &str {
        "IcebergSplitScan"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        let mut metrics = self.metrics.clone_inner();
        // The Parquet reader's pruning and I/O figures, on this scan's line. The reader is not
        // a child: no optimizer rule can repartition what the scan's partitions map to, and
        // the filters of joins are not pushed into it (as a child, with those filters, TPC-H
        // q13 and q18 ran 20-60% slower; see the closing note of issue 19).
        if let Some(reader) = self.reader.as_ref().and_then(|r| r.metrics()) {
            for m in reader.iter() {
                if m.value().name() != "output_rows"
                    && m.value().name() != "elapsed_compute"
                    && m.value().name() != "output_bytes"
                    && m.value().name() != "output_batches"
                {
                    metrics.push(m.clone());
                }
            }
        }
        Some(metrics)
    }

    fn partition_statistics(&self, partition: Option<usize>) -> DFResult<Statistics> {
        Ok(match partition {
            None => self.statistics.clone(),
            Some(_) => scan_stats::partition_share(&self.statistics, self.partitions()),
        })
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        let schema = self.schema();
        let tasks = self.groups.get(partition).cloned().unwrap_or_default();
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        MetricBuilder::new(&self.metrics)
            .counter("file_ranges", partition)
            .add(tasks.len());
        MetricBuilder::new(&self.metrics)
            .counter("bytes_planned", partition)
            .add(tasks.iter().map(task_bytes).sum::<u64>() as usize);
        let reading = MetricBuilder::new(&self.metrics).subset_time("time_reading", partition);
        if tasks.is_empty() {
            return Ok(Box::pin(RecordBatchStreamAdapter::new(
                schema,
                futures::stream::empty(),
            )));
        }
        let mut inner: futures::stream::BoxStream<'static, DFResult<RecordBatch>> =
            match &self.reader {
                Some(reader) => {
                    let theirs = reader.output_partitioning().partition_count();
                    if theirs != self.partitions() {
                        return Err(DataFusionError::Internal(format!(
                            "the Parquet reader of {} has {theirs} partitions, the scan {}",
                            self.table.identifier(),
                            self.partitions()
                        )));
                    }
                    // The same columns as the scan declares, under its schema (the field
                    // metadata of the two conversions may differ).
                    let out = schema.clone();
                    reader
                        .execute(partition, context)?
                        .map(move |b| Ok(b?.with_schema(out.clone())?))
                        .boxed()
                }
                None => {
                    let runtime = iceberg::Runtime::try_current()
                        .map_err(iceberg_datafusion::to_datafusion_error)?;
                    // One file at a time per partition: the partitions are the parallelism.
                    let reader = ArrowReaderBuilder::new(self.table.file_io().clone(), runtime)
                        .with_data_file_concurrency_limit(1)
                        .with_batch_size(self.batch_size)
                        .with_row_group_filtering_enabled(true)
                        .build();
                    reader
                        .read(futures::stream::iter(tasks.into_iter().map(Ok)).boxed())
                        .map_err(iceberg_datafusion::to_datafusion_error)?
                        .stream()
                        .map_err(iceberg_datafusion::to_datafusion_error)
                        .boxed()
                }
            };
        // Fetching and decoding happen while the reader is polled.
        let stream = futures::stream::poll_fn(move |cx| {
            let _timer = reading.timer();
            inner.poll_next_unpin(cx)
        });
        let stream: futures::stream::BoxStream<'static, DFResult<_>> = match self.limit {
            None => stream.boxed(),
            Some(limit) => {
                let mut remaining = limit;
                stream
                    .try_filter_map(move |batch: datafusion::arrow::record_batch::RecordBatch| {
                        let out = if remaining == 0 {
                            None
                        } else if batch.num_rows() <= remaining {
                            remaining -= batch.num_rows();
                            Some(batch)
                        } else {
                            let b = batch.slice(0, remaining);
                            remaining = 0;
                            Some(b)
                        };
                        futures::future::ready(Ok::<_, DataFusionError>(out))
                    })
                    .boxed()
            }
        };
        let mut stream = stream;
        let stream =
            futures::stream::poll_fn(move |cx| baseline.record_poll(stream.poll_next_unpin(cx)));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iceberg::spec::{DataFileFormat, Schema};

    fn task(path: &str, size: u64) -> FileScanTask {
        FileScanTask::builder()
            .with_file_size_in_bytes(size)
            .with_start(0)
            .with_length(size)
            .with_record_count(Some(10))
            .with_data_file_path(path.to_string())
            .with_data_file_format(DataFileFormat::Parquet)
            .with_schema(Arc::new(Schema::builder().build().unwrap()))
            .with_project_field_ids(vec![])
            .with_case_sensitive(true)
            .build()
    }

    #[test]
    fn many_small_files_spread_evenly() {
        let tasks: Vec<_> = (0..9).map(|i| task(&format!("f{i}"), 1000)).collect();
        let groups = split(tasks, 4);
        assert_eq!(groups.len(), 4);
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 9);
        assert!(sizes.iter().all(|&n| n == 2 || n == 3), "{sizes:?}");
    }

    #[test]
    fn one_large_file_is_cut_into_ranges_that_cover_it() {
        let size = 100 * 1024 * 1024 + 7;
        let groups = split(vec![task("big", size)], 4);
        assert_eq!(groups.len(), 4);
        let mut ranges: Vec<(u64, u64)> = groups
            .iter()
            .flatten()
            .map(|t| (t.start, t.start + t.length))
            .collect();
        ranges.sort();
        assert_eq!(ranges.first().unwrap().0, 0);
        assert_eq!(ranges.last().unwrap().1, size);
        assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0), "{ranges:?}");
        assert!(groups.iter().flatten().all(|t| t.record_count.is_none()));
        // A small file is not cut.
        assert_eq!(split(vec![task("small", 1000)], 4).len(), 1);
        assert!(split(vec![], 4).is_empty());
    }
}
