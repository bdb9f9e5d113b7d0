//! Building a new Iceberg snapshot by hand: the manifests, manifest list and summary of a
//! snapshot that adds and drops data files (INSERT OVERWRITE, DELETE, CREATE OR REPLACE TABLE)
//! or only records a new schema (ALTER TABLE).
//!
//! iceberg-rust's `Transaction` only appends, and no code outside the crate can build a
//! `TableCommit` (its builder and the `TransactionAction` trait are crate-private). So this
//! module builds the snapshot with iceberg's public writers (manifests, manifest list,
//! `Snapshot` builder), as iceberg's own `SnapshotProducer` does, and returns the resulting
//! [`TableUpdate`]s under [`TableRequirement`]s for [`super::commit`] to send.
//!
//! Every commit asserts the table's UUID and the snapshot `main` pointed at when the statement
//! read the table, so a concurrent writer makes it fail instead of losing that writer's rows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use iceberg::spec::{
    DataContentType, DataFile, FormatVersion, ManifestContentType, ManifestFile,
    ManifestListWriter, ManifestWriter, ManifestWriterBuilder, Operation, PartitionSpec, SchemaRef,
    Snapshot, SnapshotReference, SnapshotRetention, SnapshotSummaryCollector, Struct, Summary,
    TableMetadata, MAIN_BRANCH,
};
use iceberg::table::Table;
use iceberg::{Error, ErrorKind, TableRequirement, TableUpdate};

use super::data_files::delete_quietly;

/// Which live data files of the current snapshot a new snapshot drops.
#[derive(Debug, Clone)]
pub enum Removal {
    /// None (the snapshot only adds).
    Nothing,
    /// Every data file (full overwrite, replace, DELETE without WHERE).
    All,
    /// The files at these paths (DELETE).
    Paths(HashSet<String>),
    /// Every file of spec `spec_id` whose partition is one of these (dynamic partition
    /// overwrite, as Spark's `overwritePartitions()`).
    Partitions {
        spec_id: i32,
        partitions: HashSet<Struct>,
    },
}

impl Removal {
    fn removes(&self, spec_id: i32, file: &DataFile) -> bool {
        match self {
            Removal::Nothing => false,
            Removal::All => true,
            Removal::Paths(p) => p.contains(file.file_path()),
            Removal::Partitions {
                spec_id: s,
                partitions,
            } => *s == spec_id && partitions.contains(file.partition()),
        }
    }
}

/// A new snapshot: the files it adds and the ones it drops.
#[derive(Debug, Clone)]
pub struct SnapshotChange {
    pub operation: Operation,
    /// Data files written against the staged metadata's schema and default spec.
    pub added: Vec<DataFile>,
    pub removal: Removal,
    /// Extra snapshot summary properties (the kernel's lineage); the computed counts win.
    pub properties: HashMap<String, String>,
}

impl SnapshotChange {
    /// A row-level change (DELETE, UPDATE, MERGE): `append` when it drops nothing, `delete`
    /// when it adds nothing, `overwrite` otherwise, as Iceberg's operations are named.
    pub fn rows(
        added: Vec<DataFile>,
        removal: Removal,
        properties: HashMap<String, String>,
    ) -> Self {
        let operation = if matches!(removal, Removal::Nothing) {
            Operation::Append
        } else if added.is_empty() {
            Operation::Delete
        } else {
            Operation::Overwrite
        };
        SnapshotChange {
            operation,
            added,
            removal,
            properties,
        }
    }
}

/// A commit ready to send, and what it wrote (deleted again if it fails).
#[derive(Debug, Default)]
pub struct StagedCommit {
    pub requirements: Vec<TableRequirement>,
    pub updates: Vec<TableUpdate>,
    /// Paths of the metadata files written for this commit (manifests, manifest list); the
    /// new data files are the caller's to delete if the commit fails.
    pub written: Vec<String>,
    /// Data files the new snapshot drops, and the rows in them.
    pub removed_files: usize,
    pub removed_rows: u64,
}

/// The metadata `updates` turn `base` into, without committing anything: the table new data
/// files are written against when a statement also changes the schema or partition spec.
pub fn stage_metadata(base: &Table, updates: &[TableUpdate]) -> iceberg::Result<Table> {
    if updates.is_empty() {
        return Ok(base.clone());
    }
    let location = base.metadata_location_result()?.to_string();
    let mut builder = base.metadata().clone().into_builder(Some(location.clone()));
    for u in updates.iter().cloned() {
        builder = u.apply(builder)?;
    }
    let metadata = builder.build()?.metadata;
    Table::builder()
        .metadata(metadata)
        .metadata_location(location)
        .identifier(base.identifier().clone())
        .file_io(base.file_io().clone())
        .runtime(iceberg::Runtime::current())
        .build()
}

/// Requirements every kernel-built commit carries: the same table, and `main` where it was.
pub fn base_requirements(base: &TableMetadata) -> Vec<TableRequirement> {
    vec![
        TableRequirement::UuidMatch { uuid: base.uuid() },
        TableRequirement::RefSnapshotIdMatch {
            r#ref: MAIN_BRANCH.to_string(),
            snapshot_id: base.current_snapshot_id(),
        },
    ]
}

/// Requirements for a commit that also changes the schema or spec: the ids the staged
/// metadata assigned must be the ones the catalog assigns.
pub fn schema_requirements(base: &TableMetadata) -> Vec<TableRequirement> {
    vec![
        TableRequirement::CurrentSchemaIdMatch {
            current_schema_id: base.current_schema_id(),
        },
        TableRequirement::LastAssignedFieldIdMatch {
            last_assigned_field_id: base.last_column_id(),
        },
        TableRequirement::DefaultSpecIdMatch {
            default_spec_id: base.default_partition_spec_id(),
        },
        TableRequirement::LastAssignedPartitionIdMatch {
            last_assigned_partition_id: base.last_partition_id(),
        },
    ]
}

fn new_snapshot_id(meta: &TableMetadata) -> i64 {
    loop {
        let (a, b) = uuid::Uuid::new_v4().as_u64_pair();
        let id = ((a ^ b) & (i64::MAX as u64)) as i64;
        if id != 0 && meta.snapshot_by_id(id).is_none() {
            return id;
        }
    }
}

fn manifest_writer(
    format: FormatVersion,
    builder: ManifestWriterBuilder,
) -> iceberg::Result<ManifestWriter> {
    Ok(match format {
        FormatVersion::V1 => builder.build_v1(),
        FormatVersion::V2 => builder.build_v2_data(),
        FormatVersion::V3 => builder.build_v3_data(),
    })
}

/// Builds the snapshot for `change` on top of `base` (the table as the statement read it):
/// the new data files go into one new manifest; manifests with files to drop are rewritten
/// with those files marked deleted and the rest kept as existing; untouched manifests are
/// reused as they are. `pre_updates` (schema, spec, properties) come first in the commit, and
/// `staged` is `base` with them applied (the table the new files were written for).
///
/// Writes the manifests and the manifest list; commits nothing.
pub async fn stage_snapshot(
    base: &Table,
    staged: &Table,
    change: SnapshotChange,
    pre_updates: Vec<TableUpdate>,
) -> iceberg::Result<StagedCommit> {
    let meta = base.metadata();
    let new_meta = staged.metadata();
    let file_io = base.file_io();
    let format = meta.format_version();
    let snapshot_id = new_snapshot_id(meta);
    let commit_uuid = uuid::Uuid::new_v4();
    let dir = format!("{}/metadata", meta.location());
    let mut staged_commit = StagedCommit::default();
    let result = async {
        let mut summary = SnapshotSummaryCollector::default();
        let mut manifests: Vec<ManifestFile> = Vec::new();
        let mut counter = 0u32;
        let mut next_path = || {
            counter += 1;
            format!("{dir}/{commit_uuid}-m{counter}.avro")
        };
        if let Some(current) = meta.current_snapshot() {
            let list = base.manifest_list_reader(current).load().await?;
            for mf in list.entries() {
                let keep_as_is = mf.content == ManifestContentType::Deletes
                    || matches!(change.removal, Removal::Nothing);
                if keep_as_is {
                    manifests.push(mf.clone());
                    continue;
                }
                let manifest = mf.load_manifest(file_io).await?;
                let hit = manifest.entries().iter().any(|e| {
                    e.is_alive() && change.removal.removes(mf.partition_spec_id, e.data_file())
                });
                if !hit {
                    manifests.push(mf.clone());
                    continue;
                }
                let schema: SchemaRef = manifest.metadata().schema.clone();
                let spec: PartitionSpec = manifest.metadata().partition_spec.clone();
                let path = next_path();
                let builder = ManifestWriterBuilder::new(
                    file_io.new_output(&path)?,
                    Some(snapshot_id),
                    schema.clone(),
                    spec.clone(),
                );
                staged_commit.written.push(path);
                let mut writer = manifest_writer(format, builder)?;
                let spec = Arc::new(spec);
                for e in manifest.entries().iter().filter(|e| e.is_alive()) {
                    let seq = e.sequence_number().unwrap_or(mf.sequence_number);
                    let file_seq = e.file_sequence_number.or(Some(seq));
                    let file = e.data_file().clone();
                    if change.removal.removes(mf.partition_spec_id, &file) {
                        summary.remove_file(&file, schema.clone(), spec.clone());
                        staged_commit.removed_files += 1;
                        staged_commit.removed_rows += file.record_count();
                        writer.add_delete_file(file, seq, file_seq)?;
                    } else {
                        let snap = e.snapshot_id().unwrap_or(mf.added_snapshot_id);
                        writer.add_existing_file(file, snap, seq, file_seq)?;
                    }
                }
                manifests.push(writer.write_manifest_file().await?);
            }
        }
        if !change.added.is_empty() {
            let path = next_path();
            let builder = ManifestWriterBuilder::new(
                file_io.new_output(&path)?,
                Some(snapshot_id),
                new_meta.current_schema().clone(),
                new_meta.default_partition_spec().as_ref().clone(),
            );
            staged_commit.written.push(path);
            let mut writer = manifest_writer(format, builder)?;
            for file in &change.added {
                if file.content_type() != DataContentType::Data {
                    return Err(Error::new(
                        ErrorKind::DataInvalid,
                        "only data files can be added by this commit",
                    ));
                }
                summary.add_file(
                    file,
                    new_meta.current_schema().clone(),
                    new_meta.default_partition_spec().clone(),
                );
                // A negative sequence number leaves it to be inherited from the manifest
                // list (v2+), as iceberg's own fast append does.
                writer.add_file(file.clone(), -1)?;
            }
            manifests.push(writer.write_manifest_file().await?);
        }

        let mut props = change.properties.clone();
        props.extend(summary.build());
        add_totals(
            &mut props,
            meta.current_snapshot()
                .map(|s| &s.summary().additional_properties),
        );
        let summary = Summary {
            operation: change.operation.clone(),
            additional_properties: props,
        };

        let list_path = format!("{dir}/snap-{snapshot_id}-0-{commit_uuid}.avro");
        let next_seq = meta.next_sequence_number();
        let first_row_id = meta.next_row_id();
        let out = file_io.new_output(&list_path)?.writer().await?;
        staged_commit.written.push(list_path.clone());
        let parent = meta.current_snapshot_id();
        let mut list = match format {
            FormatVersion::V1 => ManifestListWriter::v1(out, snapshot_id, parent),
            FormatVersion::V2 => ManifestListWriter::v2(out, snapshot_id, parent, next_seq),
            FormatVersion::V3 => {
                ManifestListWriter::v3(out, snapshot_id, parent, next_seq, Some(first_row_id))
            }
        };
        list.add_manifests(manifests.into_iter())?;
        let next_row_id = list.next_row_id();
        list.close().await?;

        let builder = Snapshot::builder()
            .with_manifest_list(list_path)
            .with_snapshot_id(snapshot_id)
            .with_parent_snapshot_id(parent)
            .with_sequence_number(next_seq)
            .with_summary(summary)
            .with_schema_id(new_meta.current_schema_id())
            .with_timestamp_ms(chrono::Utc::now().timestamp_millis());
        let snapshot = match next_row_id {
            Some(next) => builder
                .with_row_range(first_row_id, next - first_row_id)
                .build(),
            None => builder.build(),
        };
        Ok(snapshot)
    }
    .await;
    let snapshot = match result {
        Ok(s) => s,
        Err(e) => {
            delete_quietly(file_io, &staged_commit.written).await;
            return Err(e);
        }
    };
    let has_pre = !pre_updates.is_empty();
    staged_commit.updates = pre_updates;
    staged_commit
        .updates
        .push(TableUpdate::AddSnapshot { snapshot });
    staged_commit.updates.push(TableUpdate::SetSnapshotRef {
        ref_name: MAIN_BRANCH.to_string(),
        reference: SnapshotReference::new(snapshot_id, SnapshotRetention::branch(None, None, None)),
    });
    staged_commit.requirements = base_requirements(meta);
    if has_pre {
        staged_commit.requirements.extend(schema_requirements(meta));
    }
    Ok(staged_commit)
}

/// True when `fresh` is `base` plus only appends (same schema and spec) none of whose files
/// `removal` would drop: a change staged on `base` can then be staged again on `fresh`
/// without undoing anyone's rows (a dynamic overwrite of other partitions).
pub async fn only_disjoint_appends(base: &Table, fresh: &Table, removal: &Removal) -> bool {
    let (b, f) = (base.metadata(), fresh.metadata());
    if b.uuid() != f.uuid()
        || b.current_schema_id() != f.current_schema_id()
        || b.default_partition_spec_id() != f.default_partition_spec_id()
    {
        return false;
    }
    let stop = b.current_snapshot_id();
    let mut new = vec![];
    let mut at = f.current_snapshot();
    loop {
        match at {
            Some(s) if Some(s.snapshot_id()) == stop => break,
            Some(s) => {
                if s.summary().operation != Operation::Append {
                    return false;
                }
                new.push(s.clone());
                at = s.parent_snapshot_id().and_then(|p| f.snapshot_by_id(p));
            }
            // Reached the first snapshot: fine only if `base` had none.
            None if stop.is_none() => break,
            None => return false,
        }
    }
    if new.is_empty() {
        return false;
    }
    for s in &new {
        let Ok(list) = fresh.manifest_list_reader(s).load().await else {
            return false;
        };
        for mf in list.entries() {
            if mf.added_snapshot_id != s.snapshot_id() || mf.content != ManifestContentType::Data {
                continue;
            }
            let Ok(m) = mf.load_manifest(fresh.file_io()).await else {
                return false;
            };
            let hit = m.entries().iter().any(|e| {
                e.status() == iceberg::spec::ManifestStatus::Added
                    && removal.removes(mf.partition_spec_id, e.data_file())
            });
            if hit {
                return false;
            }
        }
    }
    true
}

/// Sets the `total-*` summary properties from the previous snapshot's and this one's
/// `added-*` / `deleted-*` counts (iceberg's own helper for this is crate-private).
fn add_totals(props: &mut HashMap<String, String>, previous: Option<&HashMap<String, String>>) {
    const TOTALS: [(&str, &str, &str); 6] = [
        ("total-data-files", "added-data-files", "deleted-data-files"),
        (
            "total-delete-files",
            "added-delete-files",
            "removed-delete-files",
        ),
        ("total-records", "added-records", "deleted-records"),
        ("total-files-size", "added-files-size", "removed-files-size"),
        (
            "total-position-deletes",
            "added-position-deletes",
            "removed-position-deletes",
        ),
        (
            "total-equality-deletes",
            "added-equality-deletes",
            "removed-equality-deletes",
        ),
    ];
    let get = |m: &HashMap<String, String>, k: &str| -> Option<u64> {
        m.get(k).and_then(|v| v.parse().ok())
    };
    for (total, added, removed) in TOTALS {
        let before = match previous {
            None => Some(0),
            // A previous snapshot without the total (written by an older writer): unknown.
            Some(p) => get(p, total),
        };
        if let Some(before) = before {
            let value = (before + get(props, added).unwrap_or(0))
                .saturating_sub(get(props, removed).unwrap_or(0));
            props.insert(total.to_string(), value.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_and_subtract() {
        let prev = HashMap::from([
            ("total-records".to_string(), "10".to_string()),
            ("total-data-files".to_string(), "2".to_string()),
        ]);
        let mut props = HashMap::from([
            ("added-records".to_string(), "3".to_string()),
            ("deleted-records".to_string(), "4".to_string()),
            ("deleted-data-files".to_string(), "1".to_string()),
        ]);
        add_totals(&mut props, Some(&prev));
        assert_eq!(props["total-records"], "9");
        assert_eq!(props["total-data-files"], "1");
        // Unknown before (older writer): not made up.
        assert!(!props.contains_key("total-files-size"));
        let mut first = HashMap::from([("added-records".to_string(), "5".to_string())]);
        add_totals(&mut first, None);
        assert_eq!(first["total-records"], "5");
        assert_eq!(first["total-files-size"], "0");
    }
}
