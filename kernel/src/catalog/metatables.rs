//! Iceberg metadata tables that iceberg-datafusion 0.10 lacks: `t$history`, `t$files`,
//! `t$partitions` (it has `t$snapshots` and `t$manifests`).
//!
//! Each is read from the table's metadata (and, for files and partitions, the current
//! snapshot's manifests) when the statement is planned, into a small in-memory table. The
//! columns follow Spark's metadata tables, except that a partition is shown as its path
//! (`ts_day=2025-01-16`) rather than a struct, so it reads and groups as one value.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::{MemTable, TableProvider};
use iceberg::spec::{DataContentType, DataFile, PartitionSpecRef, SchemaRef};
use iceberg::table::Table;

/// Every metadata table name, for names and messages.
pub const METADATA_TABLES: [&str; 5] = ["snapshots", "history", "files", "manifests", "partitions"];

/// True for the metadata tables built here (the others are iceberg-datafusion's).
pub fn is_ours(name: &str) -> bool {
    matches!(name, "history" | "files" | "partitions")
}

/// Builds metadata table `name` of `table`.
pub async fn provider(table: &Table, name: &str) -> iceberg::Result<Arc<dyn TableProvider>> {
    let batch = match name {
        "history" => history(table),
        "files" => files(table).await?,
        _ => partitions(table).await?,
    };
    let mem = MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(|e| {
        iceberg::Error::new(
            iceberg::ErrorKind::Unexpected,
            format!("metadata table {name}: {e}"),
        )
    })?;
    Ok(Arc::new(mem))
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
}

fn batch(fields: Vec<Field>, arrays: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .expect("metadata table columns match their schema")
}

/// `t$history`: when each snapshot became current, and whether it is an ancestor of the
/// current one (false for snapshots a rollback or a replaced branch left behind).
fn history(table: &Table) -> RecordBatch {
    let meta = table.metadata();
    let mut ancestors = HashSet::new();
    let mut next = meta.current_snapshot().map(|s| s.snapshot_id());
    while let Some(id) = next {
        if !ancestors.insert(id) {
            break;
        }
        next = meta.snapshot_by_id(id).and_then(|s| s.parent_snapshot_id());
    }
    let mut at = TimestampMicrosecondBuilder::new().with_timezone("+00:00");
    let mut id = Int64Builder::new();
    let mut parent = Int64Builder::new();
    let mut current = BooleanBuilder::new();
    for log in meta.history() {
        at.append_value(log.timestamp_ms * 1000);
        id.append_value(log.snapshot_id);
        parent.append_option(
            meta.snapshot_by_id(log.snapshot_id)
                .and_then(|s| s.parent_snapshot_id()),
        );
        current.append_value(ancestors.contains(&log.snapshot_id));
    }
    batch(
        vec![
            Field::new("made_current_at", utc_micros(), false),
            Field::new("snapshot_id", DataType::Int64, false),
            Field::new("parent_id", DataType::Int64, true),
            Field::new("is_current_ancestor", DataType::Boolean, false),
        ],
        vec![
            Arc::new(at.finish()),
            Arc::new(id.finish()),
            Arc::new(parent.finish()),
            Arc::new(current.finish()),
        ],
    )
}

/// A live file of the current snapshot, with what its manifest says about it.
struct LiveFile {
    file: DataFile,
    spec_id: i32,
    snapshot_id: Option<i64>,
}

async fn live_files(table: &Table) -> iceberg::Result<Vec<LiveFile>> {
    let Some(snapshot) = table.metadata().current_snapshot() else {
        return Ok(vec![]);
    };
    let list = table.manifest_list_reader(snapshot).load().await?;
    let mut out = vec![];
    for manifest_file in list.entries() {
        let manifest = manifest_file.load_manifest(table.file_io()).await?;
        for entry in manifest.entries() {
            if entry.is_alive() {
                out.push(LiveFile {
                    file: entry.data_file().clone(),
                    spec_id: manifest_file.partition_spec_id,
                    snapshot_id: entry.snapshot_id(),
                });
            }
        }
    }
    Ok(out)
}

/// `ts_day=2025-01-16/bucket=3`, or "" for an unpartitioned file.
fn partition_path(spec: Option<&PartitionSpecRef>, schema: &SchemaRef, file: &DataFile) -> String {
    let data = file.partition();
    let Some(spec) = spec else {
        return format!("{data:?}");
    };
    let Ok(ptype) = spec.partition_type(schema) else {
        return format!("{data:?}");
    };
    spec.fields()
        .iter()
        .zip(ptype.fields())
        .enumerate()
        .map(|(i, (f, t))| {
            let value = data.fields().get(i).and_then(|v| v.as_ref());
            format!(
                "{}={}",
                f.name,
                f.transform.to_human_string(&t.field_type, value)
            )
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn content_code(c: DataContentType) -> i32 {
    match c {
        DataContentType::Data => 0,
        DataContentType::PositionDeletes => 1,
        DataContentType::EqualityDeletes => 2,
    }
}

/// `t$files`: the data and delete files of the current snapshot.
async fn files(table: &Table) -> iceberg::Result<RecordBatch> {
    let meta = table.metadata();
    let schema = meta.current_schema();
    let mut content = Int32Builder::new();
    let mut path = StringBuilder::new();
    let mut format = StringBuilder::new();
    let mut spec_id = Int32Builder::new();
    let mut partition = StringBuilder::new();
    let mut records = Int64Builder::new();
    let mut size = Int64Builder::new();
    for f in live_files(table).await? {
        content.append_value(content_code(f.file.content_type()));
        path.append_value(f.file.file_path());
        format.append_value(format!("{:?}", f.file.file_format()).to_ascii_uppercase());
        spec_id.append_value(f.spec_id);
        partition.append_value(partition_path(
            meta.partition_spec_by_id(f.spec_id),
            schema,
            &f.file,
        ));
        records.append_value(f.file.record_count() as i64);
        size.append_value(f.file.file_size_in_bytes() as i64);
    }
    Ok(batch(
        vec![
            Field::new("content", DataType::Int32, false),
            Field::new("file_path", DataType::Utf8, false),
            Field::new("file_format", DataType::Utf8, false),
            Field::new("spec_id", DataType::Int32, false),
            Field::new("partition", DataType::Utf8, false),
            Field::new("record_count", DataType::Int64, false),
            Field::new("file_size_in_bytes", DataType::Int64, false),
        ],
        vec![
            Arc::new(content.finish()),
            Arc::new(path.finish()),
            Arc::new(format.finish()),
            Arc::new(spec_id.finish()),
            Arc::new(partition.finish()),
            Arc::new(records.finish()),
            Arc::new(size.finish()),
        ],
    ))
}

/// `t$partitions`: per partition of the current snapshot, its rows, data files, bytes and
/// the last snapshot that added a file to it.
async fn partitions(table: &Table) -> iceberg::Result<RecordBatch> {
    #[derive(Default)]
    struct Acc {
        records: i64,
        files: i32,
        bytes: i64,
        delete_files: i32,
        last_snapshot: Option<i64>,
        last_at: Option<i64>,
    }
    let meta = table.metadata();
    let schema = meta.current_schema();
    let mut parts: BTreeMap<(String, i32), Acc> = BTreeMap::new();
    for f in live_files(table).await? {
        let key = (
            partition_path(meta.partition_spec_by_id(f.spec_id), schema, &f.file),
            f.spec_id,
        );
        let acc = parts.entry(key).or_default();
        if f.file.content_type() == DataContentType::Data {
            acc.records += f.file.record_count() as i64;
            acc.files += 1;
            acc.bytes += f.file.file_size_in_bytes() as i64;
        } else {
            acc.delete_files += 1;
        }
        let at = f
            .snapshot_id
            .and_then(|id| meta.snapshot_by_id(id))
            .map(|s| s.timestamp_ms());
        if at > acc.last_at {
            acc.last_at = at;
            acc.last_snapshot = f.snapshot_id;
        }
    }
    let mut partition = StringBuilder::new();
    let mut spec_id = Int32Builder::new();
    let mut records = Int64Builder::new();
    let mut files = Int32Builder::new();
    let mut bytes = Int64Builder::new();
    let mut deletes = Int32Builder::new();
    let mut last_at = TimestampMicrosecondBuilder::new().with_timezone("+00:00");
    let mut last_snapshot = Int64Builder::new();
    for ((p, spec), acc) in parts {
        partition.append_value(p);
        spec_id.append_value(spec);
        records.append_value(acc.records);
        files.append_value(acc.files);
        bytes.append_value(acc.bytes);
        deletes.append_value(acc.delete_files);
        last_at.append_option(acc.last_at.map(|ms| ms * 1000));
        last_snapshot.append_option(acc.last_snapshot);
    }
    Ok(batch(
        vec![
            Field::new("partition", DataType::Utf8, false),
            Field::new("spec_id", DataType::Int32, false),
            Field::new("record_count", DataType::Int64, false),
            Field::new("file_count", DataType::Int32, false),
            Field::new("total_data_file_size_in_bytes", DataType::Int64, false),
            Field::new("delete_file_count", DataType::Int32, false),
            Field::new("last_updated_at", utc_micros(), true),
            Field::new("last_updated_snapshot_id", DataType::Int64, true),
        ],
        vec![
            Arc::new(partition.finish()),
            Arc::new(spec_id.finish()),
            Arc::new(records.finish()),
            Arc::new(files.finish()),
            Arc::new(bytes.finish()),
            Arc::new(deletes.finish()),
            Arc::new(last_at.finish()),
            Arc::new(last_snapshot.finish()),
        ],
    ))
}
