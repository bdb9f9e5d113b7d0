//! The statistics of an Iceberg scan, from the manifests: rows, null counts, bounds and sizes of
//! the data files the scan planned, handed to DataFusion so that joins pick their build side
//! (and broadcast a small table) from real sizes. Without them an Iceberg scan reported
//! nothing and DataFusion kept every join as written.
//!
//! Manifests are immutable files, so they are cached by path for the life of the process: a
//! statement never reads the same manifest twice, and a new snapshot (another kernel's commit)
//! brings new manifest paths, which are read.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, ScalarValue, Statistics};
use iceberg::scan::FileScanTask;
use iceberg::spec::{Datum, Manifest, ManifestContentType, ManifestFile, PrimitiveLiteral};
use iceberg::table::Table;

/// Manifests read at once.
const MANIFEST_READS: usize = 16;

/// Manifests read so far, by path (at most this many kept).
const CACHED_MANIFESTS: u64 = 1024;

static MANIFESTS: LazyLock<moka::sync::Cache<String, Arc<Manifest>>> =
    LazyLock::new(|| moka::sync::Cache::new(CACHED_MANIFESTS));

/// `file`'s manifest, from the cache or read once.
async fn manifest(table: &Table, file: &ManifestFile) -> iceberg::Result<Arc<Manifest>> {
    if let Some(m) = MANIFESTS.get(&file.manifest_path) {
        return Ok(m);
    }
    let m = Arc::new(file.load_manifest(table.file_io()).await?);
    MANIFESTS.insert(file.manifest_path.clone(), m.clone());
    Ok(m)
}

/// Per-column totals over the planned files.
#[derive(Default, Clone)]
struct Column {
    nulls: Option<u64>,
    bytes: Option<u64>,
    min: Option<ScalarValue>,
    max: Option<ScalarValue>,
    /// False once a file lacks the counts or bounds: the column's statistics are unknown.
    known: bool,
}

/// The statistics of a scan of `table` at `snapshot_id` (the current snapshot when `None`)
/// that planned `tasks` (whole files, before any split) and gives `schema`'s columns.
/// `exact_rows`: no predicate filters rows inside the files, so the row count is exact when no
/// file has deletes. Unknown (not an error) when the manifests cannot be read.
pub async fn scan_statistics(
    table: &Table,
    snapshot_id: Option<i64>,
    tasks: &[FileScanTask],
    schema: &SchemaRef,
    exact_rows: bool,
) -> ScanFacts {
    match collect(table, snapshot_id, tasks, schema, exact_rows).await {
        Ok(f) => f,
        Err(e) => {
            log::debug!("no statistics for {}: {e}", table.identifier());
            ScanFacts {
                statistics: Statistics::new_unknown(schema),
                files_in_snapshot: None,
                identity_column_missing: true,
            }
        }
    }
}

/// What the manifests say of a scan's files.
pub struct ScanFacts {
    pub statistics: Statistics,
    /// The live data files of the snapshot (so how many the planning pruned).
    pub files_in_snapshot: Option<usize>,
    /// Some planned file may not store an identity partition column (a file added from
    /// another table format): its values must come from the partition tuple, which only
    /// iceberg's reader fills in. True when unknown.
    pub identity_column_missing: bool,
}

async fn collect(
    table: &Table,
    snapshot_id: Option<i64>,
    tasks: &[FileScanTask],
    schema: &SchemaRef,
    exact_rows: bool,
) -> iceberg::Result<ScanFacts> {
    let meta = table.metadata();
    let snapshot = match snapshot_id {
        Some(id) => meta.snapshot_by_id(id),
        None => meta.current_snapshot(),
    };
    let Some(snapshot) = snapshot else {
        // No snapshot: the table has no rows.
        return Ok(ScanFacts {
            statistics: empty(schema),
            files_in_snapshot: Some(0),
            identity_column_missing: false,
        });
    };
    let iceberg_schema = snapshot.schema(meta)?;
    // The Iceberg field id of each output column (by its field-id metadata, else its name).
    let ids: Vec<Option<i32>> = schema
        .fields()
        .iter()
        .map(|f| {
            f.metadata()
                .get(datafusion::parquet::arrow::PARQUET_FIELD_ID_META_KEY)
                .and_then(|v| v.parse().ok())
                .or_else(|| iceberg_schema.field_by_name(f.name()).map(|n| n.id))
        })
        .collect();
    let planned: HashSet<&str> = tasks.iter().map(|t| t.data_file_path.as_str()).collect();
    let has_deletes = tasks.iter().any(|t| !t.deletes.is_empty());
    let mut rows: u64 = 0;
    let mut alive = 0usize;
    let mut identity_column_missing = false;
    let mut seen: HashSet<String> = HashSet::new();
    let mut columns: Vec<Column> = vec![
        Column {
            nulls: Some(0),
            bytes: Some(0),
            known: true,
            ..Default::default()
        };
        schema.fields().len()
    ];
    let list = table.manifest_list_reader(snapshot).load().await?;
    // Read concurrently: on S3 each manifest is a round trip, and a table appended to often
    // has one manifest per append.
    let files: Vec<ManifestFile> = list
        .entries()
        .iter()
        .filter(|mf| mf.content == ManifestContentType::Data)
        .cloned()
        .collect();
    let mut manifests: Vec<Arc<Manifest>> = Vec::with_capacity(files.len());
    for chunk in files.chunks(MANIFEST_READS) {
        let read = chunk.iter().map(|mf| manifest(table, mf));
        manifests.extend(futures::future::try_join_all(read).await?);
    }
    for m in manifests {
        let identity: Vec<i32> = m
            .metadata()
            .partition_spec
            .fields()
            .iter()
            .filter(|f| f.transform == iceberg::spec::Transform::Identity)
            .map(|f| f.source_id)
            .collect();
        for entry in m.entries() {
            if !entry.is_alive() {
                continue;
            }
            alive += 1;
            let file = entry.data_file();
            if !planned.contains(file.file_path()) || !seen.insert(file.file_path().to_string()) {
                continue;
            }
            rows += file.record_count();
            identity_column_missing |= identity.iter().any(|id| {
                !file.value_counts().contains_key(id) && !file.column_sizes().contains_key(id)
            });
            for ((c, id), field) in columns.iter_mut().zip(&ids).zip(schema.fields()) {
                let Some(id) = id else {
                    c.known = false;
                    continue;
                };
                add_file(c, *id, file, field.data_type());
            }
        }
    }
    let precise = |n: usize| {
        if exact_rows && !has_deletes && seen.len() == planned.len() {
            Precision::Exact(n)
        } else {
            Precision::Inexact(n)
        }
    };
    let rows = rows as usize;
    let column_statistics: Vec<ColumnStatistics> = columns
        .into_iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            let byte_size = match f.data_type().primitive_width() {
                Some(w) => Precision::Inexact(w * rows),
                // Strings and nested values: their stored size, a floor for their size in
                // memory (DataFusion's Parquet source uses the uncompressed size).
                None => c
                    .bytes
                    .map_or(Precision::Absent, |b| Precision::Inexact(b as usize)),
            };
            if !c.known {
                return ColumnStatistics::new_unknown().with_byte_size(byte_size);
            }
            ColumnStatistics {
                null_count: c
                    .nulls
                    .map_or(Precision::Absent, |n| Precision::Inexact(n as usize)),
                max_value: c.max.map_or(Precision::Absent, Precision::Inexact),
                min_value: c.min.map_or(Precision::Absent, Precision::Inexact),
                sum_value: Precision::Absent,
                distinct_count: Precision::Absent,
                byte_size,
            }
        })
        .collect();
    let total: Option<usize> = column_statistics
        .iter()
        .map(|c| c.byte_size.get_value().copied())
        .sum();
    let statistics = Statistics {
        num_rows: precise(rows),
        total_byte_size: total.map_or(Precision::Absent, Precision::Inexact),
        column_statistics,
    };
    Ok(ScanFacts {
        statistics,
        files_in_snapshot: Some(alive),
        identity_column_missing,
    })
}

/// A scan of no rows.
fn empty(schema: &SchemaRef) -> Statistics {
    Statistics {
        num_rows: Precision::Exact(0),
        total_byte_size: Precision::Exact(0),
        column_statistics: schema
            .fields()
            .iter()
            .map(|_| ColumnStatistics {
                null_count: Precision::Exact(0),
                ..ColumnStatistics::new_unknown()
            })
            .collect(),
    }
}

/// Adds one data file's metrics for field `id` to `c`.
fn add_file(c: &mut Column, id: i32, file: &iceberg::spec::DataFile, ty: &DataType) {
    if !c.known {
        return;
    }
    c.bytes = match (c.bytes, file.column_sizes().get(&id)) {
        (Some(a), Some(b)) => Some(a + b),
        _ => None,
    };
    let Some(&nulls) = file.null_value_counts().get(&id) else {
        c.known = false;
        return;
    };
    c.nulls = c.nulls.map(|n| n + nulls);
    let values = file.value_counts().get(&id).copied();
    let (lower, upper) = (file.lower_bounds().get(&id), file.upper_bounds().get(&id));
    match (lower, upper) {
        (Some(l), Some(u)) => {
            let (Some(l), Some(u)) = (scalar(l, ty), scalar(u, ty)) else {
                c.known = false;
                return;
            };
            c.min = Some(match c.min.take() {
                Some(m) if m <= l => m,
                _ => l,
            });
            c.max = Some(match c.max.take() {
                Some(m) if m >= u => m,
                _ => u,
            });
        }
        // A column of only nulls in this file has no bounds.
        _ if values == Some(nulls) => {}
        _ => c.known = false,
    }
}

/// A bound as a value of the column's Arrow type; `None` for the types bounds are not kept
/// for here (binary, UUID, nested), or a bound that does not convert.
fn scalar(d: &Datum, ty: &DataType) -> Option<ScalarValue> {
    let v = match (d.literal(), ty) {
        (PrimitiveLiteral::Int128(v), DataType::Decimal128(p, s)) => {
            return Some(ScalarValue::Decimal128(Some(*v), *p, *s))
        }
        (PrimitiveLiteral::Boolean(b), _) => ScalarValue::Boolean(Some(*b)),
        (PrimitiveLiteral::Int(v), _) => ScalarValue::Int32(Some(*v)),
        (PrimitiveLiteral::Long(v), _) => ScalarValue::Int64(Some(*v)),
        (PrimitiveLiteral::Float(v), _) => ScalarValue::Float32(Some(v.0)),
        (PrimitiveLiteral::Double(v), _) => ScalarValue::Float64(Some(v.0)),
        (PrimitiveLiteral::String(s), _) => ScalarValue::Utf8(Some(s.clone())),
        _ => return None,
    };
    if matches!(
        ty,
        DataType::Binary | DataType::LargeBinary | DataType::FixedSizeBinary(_)
    ) || ty.is_nested()
    {
        return None;
    }
    if &v.data_type() == ty {
        return Some(v);
    }
    v.cast_to(ty).ok()
}

/// The statistics of one of `parts` partitions of a scan with statistics `total`: the rows and
/// sizes split evenly (the splits are of about equal bytes), the bounds kept.
pub fn partition_share(total: &Statistics, parts: usize) -> Statistics {
    let share = |p: &Precision<usize>| p.map(|n| n.div_ceil(parts.max(1))).to_inexact();
    Statistics {
        num_rows: share(&total.num_rows),
        total_byte_size: share(&total.total_byte_size),
        column_statistics: total
            .column_statistics
            .iter()
            .map(|c| ColumnStatistics {
                null_count: share(&c.null_count),
                byte_size: share(&c.byte_size),
                max_value: c.max_value.clone().to_inexact(),
                min_value: c.min_value.clone().to_inexact(),
                sum_value: Precision::Absent,
                distinct_count: Precision::Absent,
            })
            .collect(),
    }
}

/// The statistics with at most `limit` rows (a scan that stops early).
pub fn with_limit(stats: Statistics, limit: Option<usize>) -> Statistics {
    match limit {
        None => stats,
        Some(l) => stats.clone().with_fetch(Some(l), 0, 1).unwrap_or(stats),
    }
}
