//! INSERT OVERWRITE: the rows of a query replace the partitions they fall in (Spark's dynamic
//! partition overwrite), or the whole table when it is unpartitioned.

use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use iceberg::spec::{DataFile, Operation};

use super::data_files::write_data_files;
use super::snapshot::{Removal, SnapshotChange};
use super::{Result, TableTarget};

/// What an overwrite did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwritten {
    /// The query returned no rows and so replaced no partition (or the unpartitioned table
    /// had no snapshot yet): no commit.
    Nothing,
    /// Committed: `rows` new rows replaced `removed_files` data files holding `removed_rows`.
    Replaced {
        rows: u64,
        removed_files: usize,
        removed_rows: u64,
    },
}

/// Overwrites `target` with the rows of `input` (planned in `state`) in one commit. Appends
/// to other partitions that commit meanwhile do not fail it (it is staged again on them);
/// anything else that commits meanwhile does.
pub async fn overwrite(
    target: &TableTarget,
    state: &SessionState,
    input: LogicalPlan,
) -> Result<Overwritten> {
    target.require_custom_commits("INSERT OVERWRITE")?;
    let base = target.load().await?;
    let files = write_data_files(state, &base, input).await?;
    let rows: u64 = files.iter().map(DataFile::record_count).sum();
    let spec = base.metadata().default_partition_spec().clone();
    let removal = if spec.is_unpartitioned() {
        Removal::All
    } else {
        // Spark's dynamic partition overwrite: the partitions the query wrote are replaced.
        Removal::Partitions {
            spec_id: spec.spec_id(),
            partitions: files.iter().map(|f| f.partition().clone()).collect(),
        }
    };
    let nothing_to_do = files.is_empty()
        && (base.metadata().current_snapshot().is_none() || !spec.is_unpartitioned());
    if nothing_to_do {
        return Ok(Overwritten::Nothing);
    }
    let change = SnapshotChange {
        operation: Operation::Overwrite,
        added: files,
        removal,
        properties: target.summary.clone(),
    };
    let (removed_files, removed_rows) = target
        .commit_change(base, None, change, vec![], true)
        .await?;
    Ok(Overwritten::Replaced {
        rows,
        removed_files,
        removed_rows,
    })
}
