//! Helpers shared by the tests of the lakehouse operations and of the SQL writes on them.

use futures::TryStreamExt;
use iceberg::table::Table;

/// The live data files of `table`'s current snapshot as (path, rows); none before the first
/// snapshot.
pub(crate) async fn data_files(table: &Table) -> Vec<(String, u64)> {
    if table.metadata().current_snapshot().is_none() {
        return vec![];
    }
    let tasks: Vec<_> = table
        .scan()
        .build()
        .unwrap()
        .plan_files()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    tasks
        .into_iter()
        .map(|t| (t.data_file_path.clone(), t.record_count.unwrap_or(0)))
        .collect()
}
