//! Iceberg data files read by DataFusion's own Parquet reader (`DataSourceExec` with a
//! `ParquetSource`), so Iceberg tables get what plain Parquet gets: row-group and page-index
//! pruning by the query's filter, filters evaluated while decoding, and limits.
//!
//! Iceberg's semantics are kept by two small pieces:
//! - [`FieldIdAdapterFactory`] matches the table's columns to a file's columns by Iceberg field
//!   id (renamed columns), casts promoted types, and gives NULL for a column the file does not
//!   have (added after the file was written);
//! - [`FileIoReaderFactory`] reads the bytes through the table's `FileIO` (local, S3: the
//!   catalog's own storage settings), so no DataFusion object store needs configuring.
//!
//! Planning stays Iceberg's (manifests, partition and bounds pruning, snapshots). Files with
//! delete files, and files that may lack an identity partition column (whose values then come
//! from the partition tuple), are not given to this reader: the caller keeps iceberg's reader
//! for them.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::ScalarValue;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileGroup, FileScanConfigBuilder, ParquetFileReaderFactory, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result as DFResult;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::arrow::PARQUET_FIELD_ID_META_KEY;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::physical_expr::expressions::{CastExpr, Column, Literal};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr_adapter::{
    DefaultPhysicalExprAdapterFactory, PhysicalExprAdapter, PhysicalExprAdapterFactory,
};
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder};
use datafusion::physical_plan::ExecutionPlan;
use futures::future::BoxFuture;
use futures::FutureExt;
use iceberg::arrow::ArrowFileReader;
use iceberg::io::{FileIO, FileMetadata};
use iceberg::scan::FileScanTask;

/// A scan of `groups` (one partition each) with DataFusion's Parquet reader: the columns
/// `projection` of `table_schema` (the snapshot's Arrow schema, with field ids), rows
/// filtered by `predicate` (over `table_schema`) where DataFusion can, at most `limit` rows
/// per partition, with the session's Parquet `options`.
pub fn parquet_exec(
    file_io: &FileIO,
    table_schema: SchemaRef,
    projection: Vec<usize>,
    groups: &[Vec<FileScanTask>],
    predicate: Option<Arc<dyn PhysicalExpr>>,
    limit: Option<usize>,
    options: &datafusion::config::ParquetOptions,
) -> DFResult<Arc<dyn ExecutionPlan>> {
    // The session's Parquet options (`datafusion.execution.parquet.*`), as a Parquet table of
    // the same session reads with.
    let options = datafusion::config::TableParquetOptions {
        global: options.clone(),
        ..Default::default()
    };
    let mut source = ParquetSource::new(table_schema)
        .with_table_parquet_options(options)
        .with_parquet_file_reader_factory(Arc::new(FileIoReaderFactory {
            file_io: file_io.clone(),
        }));
    if let Some(p) = predicate {
        source = source.with_predicate(p);
    }
    let file_groups = groups
        .iter()
        .map(|g| {
            FileGroup::new(
                g.iter()
                    .map(|t| {
                        let mut f =
                            PartitionedFile::new(t.data_file_path.clone(), t.file_size_in_bytes);
                        if t.length > 0 {
                            f = f.with_range(t.start as i64, (t.start + t.length) as i64);
                        }
                        // The path as FileIO knows it (`s3://…`): the object store path in
                        // PartitionedFile is normalized.
                        f.with_extensions(Arc::new(t.data_file_path.clone()))
                    })
                    .collect(),
            )
        })
        .collect();
    let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
        .with_file_groups(file_groups)
        .with_projection_indices(Some(projection))?
        .with_limit(limit)
        .with_expr_adapter(Some(Arc::new(FieldIdAdapterFactory)))
        .build();
    Ok(DataSourceExec::from_data_source(config))
}

/// Readers of data files through the table's `FileIO`.
#[derive(Debug)]
struct FileIoReaderFactory {
    file_io: FileIO,
}

impl ParquetFileReaderFactory for FileIoReaderFactory {
    fn create_reader(
        &self,
        partition_index: usize,
        file: PartitionedFile,
        _metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> DFResult<Box<dyn AsyncFileReader + Send>> {
        let path = file
            .extensions
            .as_ref()
            .and_then(|e| e.downcast_ref::<String>())
            .cloned()
            .unwrap_or_else(|| file.object_meta.location.to_string());
        Ok(Box::new(LazyReader {
            file_io: self.file_io.clone(),
            path,
            size: file.object_meta.size,
            inner: None,
            bytes_scanned: MetricBuilder::new(metrics).counter("bytes_scanned", partition_index),
        }))
    }
}

/// iceberg's `ArrowFileReader` (ranges coalesced and fetched concurrently), opened on first
/// use: `create_reader` cannot wait for storage.
struct LazyReader {
    file_io: FileIO,
    path: String,
    size: u64,
    inner: Option<ArrowFileReader>,
    /// The bytes fetched from storage (footer, page index, column chunks).
    bytes_scanned: Count,
}

fn external(e: iceberg::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl LazyReader {
    async fn open(&mut self) -> Result<&mut ArrowFileReader, ParquetError> {
        if self.inner.is_none() {
            let input = self.file_io.new_input(&self.path).map_err(external)?;
            let reader = input.reader().await.map_err(external)?;
            self.inner = Some(ArrowFileReader::new(
                FileMetadata { size: self.size },
                Box::new(reader),
            ));
        }
        Ok(self.inner.as_mut().expect("opened above"))
    }
}

impl AsyncFileReader for LazyReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes, ParquetError>> {
        self.bytes_scanned.add((range.end - range.start) as usize);
        async move { self.open().await?.get_bytes(range).await }.boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, Result<Vec<Bytes>, ParquetError>> {
        let n: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        self.bytes_scanned.add(n as usize);
        async move { self.open().await?.get_byte_ranges(ranges).await }.boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>, ParquetError>> {
        async move { self.open().await?.get_metadata(options).await }.boxed()
    }
}

/// Maps the table's columns to a file's by Iceberg field id.
#[derive(Debug)]
pub struct FieldIdAdapterFactory;

fn field_id(f: &datafusion::arrow::datatypes::Field) -> Option<i32> {
    f.metadata()
        .get(PARQUET_FIELD_ID_META_KEY)
        .and_then(|v| v.parse().ok())
}

impl PhysicalExprAdapterFactory for FieldIdAdapterFactory {
    fn create(
        &self,
        logical_file_schema: SchemaRef,
        physical_file_schema: SchemaRef,
    ) -> DFResult<Arc<dyn PhysicalExprAdapter>> {
        // A file without field ids (written by a tool that does not set them) is matched by
        // name, as DataFusion does.
        if physical_file_schema
            .fields()
            .iter()
            .all(|f| field_id(f).is_none())
        {
            return DefaultPhysicalExprAdapterFactory
                .create(logical_file_schema, physical_file_schema);
        }
        let columns = logical_file_schema
            .fields()
            .iter()
            .map(|l| {
                let id = field_id(l)?;
                physical_file_schema
                    .fields()
                    .iter()
                    .position(|p| field_id(p) == Some(id))
            })
            .collect();
        Ok(Arc::new(FieldIdAdapter {
            logical: logical_file_schema,
            physical: physical_file_schema,
            columns,
        }))
    }
}

/// See [`FieldIdAdapterFactory`]: `columns[i]` is the file's column for the table's column `i`.
#[derive(Debug)]
struct FieldIdAdapter {
    logical: SchemaRef,
    physical: SchemaRef,
    columns: Vec<Option<usize>>,
}

impl PhysicalExprAdapter for FieldIdAdapter {
    fn rewrite(&self, expr: Arc<dyn PhysicalExpr>) -> DFResult<Arc<dyn PhysicalExpr>> {
        expr.transform(|e| {
            let Some(c) = e.as_any().downcast_ref::<Column>() else {
                return Ok(Transformed::no(e));
            };
            let index = self.logical.index_of(c.name())?;
            let want = self.logical.field(index);
            let out: Arc<dyn PhysicalExpr> = match self.columns[index] {
                Some(p) => {
                    let have = self.physical.field(p);
                    let col = Arc::new(Column::new(have.name(), p));
                    if have.data_type() == want.data_type() {
                        col
                    } else {
                        // A promoted type (int to long, float to double, wider decimal).
                        Arc::new(CastExpr::new(col, want.data_type().clone(), None))
                    }
                }
                // Added to the table after this file was written.
                None => Arc::new(Literal::new(ScalarValue::try_from(want.data_type())?)),
            };
            Ok(Transformed::yes(out))
        })
        .data()
    }
}

/// The Arrow schema DataFusion's reader sees for a table's snapshot schema: Iceberg's own
/// conversion, which carries the field ids.
pub fn table_arrow_schema(schema: &iceberg::spec::Schema) -> DFResult<SchemaRef> {
    let s: Schema = iceberg::arrow::schema_to_arrow_schema(schema)
        .map_err(iceberg_datafusion::to_datafusion_error)?;
    Ok(Arc::new(s))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use datafusion::arrow::datatypes::{DataType, Field};

    use super::*;

    fn field(name: &str, ty: DataType, id: Option<i32>) -> Field {
        let f = Field::new(name, ty, true);
        match id {
            Some(id) => f.with_metadata(HashMap::from([(
                PARQUET_FIELD_ID_META_KEY.to_string(),
                id.to_string(),
            )])),
            None => f,
        }
    }

    fn rewrite(adapter: &Arc<dyn PhysicalExprAdapter>, name: &str, index: usize) -> String {
        adapter
            .rewrite(Arc::new(Column::new(name, index)))
            .unwrap()
            .to_string()
    }

    #[test]
    fn columns_are_matched_by_field_id_promoted_and_filled() {
        // The table now: id (1, promoted to BIGINT), label (2, was `name`), extra (3, added).
        let logical = Arc::new(Schema::new(vec![
            field("id", DataType::Int64, Some(1)),
            field("label", DataType::Utf8, Some(2)),
            field("extra", DataType::Int64, Some(3)),
        ]));
        // An old file: `name` first, then id as INT, and a column since dropped (4).
        let physical = Arc::new(Schema::new(vec![
            field("name", DataType::Utf8, Some(2)),
            field("gone", DataType::Utf8, Some(4)),
            field("id", DataType::Int32, Some(1)),
        ]));
        let adapter = FieldIdAdapterFactory
            .create(logical.clone(), physical)
            .unwrap();
        assert_eq!(rewrite(&adapter, "label", 1), "name@0");
        assert_eq!(rewrite(&adapter, "id", 0), "CAST(id@2 AS Int64)");
        assert_eq!(rewrite(&adapter, "extra", 2), "NULL");

        // A swap of names: each column still reads its own field.
        let swapped = Arc::new(Schema::new(vec![
            field("label", DataType::Utf8, Some(1)),
            field("id", DataType::Utf8, Some(2)),
        ]));
        let logical = Arc::new(Schema::new(vec![
            field("id", DataType::Utf8, Some(1)),
            field("label", DataType::Utf8, Some(2)),
        ]));
        let adapter = FieldIdAdapterFactory.create(logical, swapped).unwrap();
        assert_eq!(rewrite(&adapter, "id", 0), "label@0");
        assert_eq!(rewrite(&adapter, "label", 1), "id@1");
    }

    #[test]
    fn files_without_field_ids_are_matched_by_name() {
        let logical = Arc::new(Schema::new(vec![
            field("a", DataType::Int64, Some(1)),
            field("b", DataType::Utf8, Some(2)),
        ]));
        let physical = Arc::new(Schema::new(vec![
            field("b", DataType::Utf8, None),
            field("a", DataType::Int64, None),
        ]));
        let adapter = FieldIdAdapterFactory.create(logical, physical).unwrap();
        assert_eq!(rewrite(&adapter, "a", 0), "a@1");
    }
}
