//! The table operations from plain Rust: an embedded catalog in a temporary folder, a bare
//! DataFusion `SessionContext` to plan the rows, and the tables read back with iceberg's own
//! scan. No SQL engine and no notebook types.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{col, lit, SessionContext};
use futures::TryStreamExt;
use iceberg::spec::{Operation, Transform};
use iceberg::table::Table;
use iceberg::{Catalog, ErrorKind, TableIdent};

use super::test_support::data_files;
use super::*;
use crate::catalog;
use crate::settings::Settings;

/// An embedded catalog in a fresh temporary folder, and a session to plan rows in.
struct Lake {
    dir: std::path::PathBuf,
    settings: Settings,
    catalog: Arc<dyn Catalog>,
    ctx: SessionContext,
}

impl Lake {
    async fn open(name: &str) -> Lake {
        let dir = std::env::temp_dir().join(format!("lh-ops-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let env = std::collections::BTreeMap::from([(
            "LAKEHOUSE_HOME".to_string(),
            dir.display().to_string(),
        )]);
        let settings = Settings::from_map(&env).unwrap();
        let catalog = catalog::open_embedded(&settings).await.unwrap();
        Lake {
            dir,
            settings,
            catalog,
            ctx: SessionContext::new(),
        }
    }

    fn ident(&self, table: &str) -> TableIdent {
        TableIdent::new(catalog::namespace("default"), table.to_string())
    }

    /// `default.<table>` with commits to the embedded catalog and one lineage key.
    fn target(&self, table: &str) -> TableTarget {
        TableTarget {
            name: format!("default.{table}"),
            ident: self.ident(table),
            catalog: self.catalog.clone(),
            commit: CommitTarget::Embedded {
                db_uri: catalog::embedded_db_uri(&self.settings),
            },
            summary: HashMap::from([("lakehouse.test".to_string(), "yes".to_string())]),
        }
    }

    /// Creates `default.<table>` with INT `k` and STRING `v`, partitioned by `k` or not.
    async fn create(&self, table: &str, partitioned: bool) {
        let arrow = ArrowSchema::new(vec![
            Field::new("k", DataType::Int32, true),
            Field::new("v", DataType::Utf8, true),
        ]);
        let schema = table_schema(&arrow, table).unwrap();
        let mut op = CreateTable::new(self.ident(table), schema.clone());
        if partitioned {
            op.partition_spec =
                partition_spec(&schema, &[field("k", Transform::Identity)], table).unwrap();
        }
        op.create(self.catalog.as_ref()).await.unwrap();
    }

    /// A plan giving the rows `(k, v)`.
    fn rows(&self, rows: &[(i32, Option<&str>)]) -> LogicalPlan {
        let k: ArrayRef = Arc::new(Int32Array::from(
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        ));
        let v: ArrayRef = Arc::new(StringArray::from(
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_from_iter(vec![("k", k), ("v", v)]).unwrap();
        self.ctx.read_batch(batch).unwrap().into_unoptimized_plan()
    }

    async fn append(&self, table: &str, rows: &[(i32, Option<&str>)]) -> u64 {
        append(&self.target(table), &self.ctx.state(), self.rows(rows))
            .await
            .unwrap()
    }

    async fn load(&self, table: &str) -> Table {
        self.catalog.load_table(&self.ident(table)).await.unwrap()
    }

    /// Every row of the table's current snapshot as `a|b`, sorted.
    async fn read(&self, table: &str) -> Vec<String> {
        let t = self.load(table).await;
        let batches: Vec<RecordBatch> = t
            .scan()
            .build()
            .unwrap()
            .to_arrow()
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let mut out = vec![];
        for b in &batches {
            for i in 0..b.num_rows() {
                let cells: Vec<String> = b
                    .columns()
                    .iter()
                    .map(|c| array_value_to_string(c, i).unwrap())
                    .collect();
                out.push(cells.join("|"));
            }
        }
        out.sort();
        out
    }

    /// Snapshot operations from the first to the current one.
    async fn operations(&self, table: &str) -> Vec<String> {
        let t = self.load(table).await;
        let m = t.metadata();
        let mut ops = vec![];
        let mut at = m.current_snapshot();
        while let Some(s) = at {
            ops.push(s.summary().operation.as_str().to_string());
            at = s.parent_snapshot_id().and_then(|p| m.snapshot_by_id(p));
        }
        ops.reverse();
        ops
    }
}

impl Drop for Lake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn field(column: &str, transform: Transform) -> PartitionField {
    PartitionField {
        column: column.to_string(),
        transform,
        written: column.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_overwrite_and_delete_through_the_operations() {
    let lake = Lake::open("dml").await;
    lake.create("ev", true).await;
    let t = lake.load("ev").await;
    assert_eq!(
        t.metadata()
            .properties()
            .get("commit.retry.num-retries")
            .map(String::as_str),
        Some("10")
    );
    let n = lake
        .append(
            "ev",
            &[
                (1, Some("a")),
                (2, Some("b")),
                (2, Some("c")),
                (3, Some("d")),
            ],
        )
        .await;
    assert_eq!(n, 4);
    // The fanout writer wrote one file per partition.
    assert_eq!(data_files(&lake.load("ev").await).await.len(), 3);
    let summary = &lake
        .load("ev")
        .await
        .metadata()
        .current_snapshot()
        .unwrap()
        .summary()
        .additional_properties
        .clone();
    assert_eq!(
        summary.get("lakehouse.test").map(String::as_str),
        Some("yes")
    );

    // Dynamic partition overwrite: k=2 replaced, k=4 new, k=1 and k=3 untouched.
    let target = lake.target("ev");
    let done = overwrite(
        &target,
        &lake.ctx.state(),
        lake.rows(&[(2, Some("z")), (4, Some("y"))]),
    )
    .await
    .unwrap();
    assert_eq!(
        done,
        Overwritten::Replaced {
            rows: 2,
            removed_files: 1,
            removed_rows: 2
        }
    );
    assert_eq!(lake.read("ev").await, vec!["1|a", "2|z", "3|d", "4|y"]);
    // No rows: no partition replaced, no commit.
    let done = overwrite(&target, &lake.ctx.state(), lake.rows(&[]))
        .await
        .unwrap();
    assert_eq!(done, Overwritten::Nothing);
    assert_eq!(lake.operations("ev").await, vec!["append", "overwrite"]);

    // k = 1 drops a whole file, v = 'y' another; nothing is rewritten.
    let done = delete(
        &target,
        &lake.ctx.state(),
        Some(col("k").eq(lit(1)).or(col("v").eq(lit("y")))),
    )
    .await
    .unwrap();
    assert_eq!(
        done,
        Deleted::Rows {
            rows: 2,
            dropped_files: 2,
            rewritten: 0
        }
    );
    assert_eq!(lake.read("ev").await, vec!["2|z", "3|d"]);
    let done = delete(&target, &lake.ctx.state(), Some(col("v").eq(lit("none"))))
        .await
        .unwrap();
    assert_eq!(done, Deleted::NoMatch);
    assert_eq!(
        lake.operations("ev").await,
        vec!["append", "overwrite", "delete"]
    );
    // No condition: every row.
    let done = delete(&target, &lake.ctx.state(), None).await.unwrap();
    assert!(matches!(done, Deleted::Rows { rows: 2, .. }), "{done:?}");
    assert!(lake.read("ev").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_rewrites_partly_matching_files_and_keeps_null_rows() {
    let lake = Lake::open("cow").await;
    lake.create("d", false).await;
    lake.append("d", &[(1, Some("a")), (2, Some("x")), (3, None)])
        .await;
    let target = lake.target("d");
    let done = delete(&target, &lake.ctx.state(), Some(col("v").eq(lit("x"))))
        .await
        .unwrap();
    assert_eq!(
        done,
        Deleted::Rows {
            rows: 1,
            dropped_files: 0,
            rewritten: 1
        }
    );
    // The NULL row does not match v = 'x' (NULL, not TRUE) and stays.
    assert_eq!(lake.read("d").await, vec!["1|a", "3|"]);
    assert_eq!(lake.operations("d").await, vec!["append", "overwrite"]);
    let empty = Lake::open("cow-empty").await;
    empty.create("e", false).await;
    let done = delete(&empty.target("e"), &empty.ctx.state(), None)
        .await
        .unwrap();
    assert_eq!(done, Deleted::Empty);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_as_writes_rows_or_leaves_no_table() {
    let lake = Lake::open("ctas").await;
    let arrow = ArrowSchema::new(vec![
        Field::new("k", DataType::Int32, true),
        Field::new("v", DataType::Utf8, true),
    ]);
    let op = CreateTable::new(lake.ident("c"), table_schema(&arrow, "default.c").unwrap());
    let rows = op
        .create_as(
            lake.catalog.as_ref(),
            &lake.ctx.state(),
            lake.rows(&[(1, Some("a")), (2, Some("b"))]),
            &HashMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(rows, 2);
    assert_eq!(lake.read("c").await, vec!["1|a", "2|b"]);
    assert!(table_exists(lake.catalog.as_ref(), &lake.ident("c"))
        .await
        .unwrap());
    // The query fails while the rows are written: the new table goes again.
    let failing = lake
        .ctx
        .sql("SELECT 10 / (x - 1) AS y FROM (VALUES (1)) v(x)")
        .await
        .unwrap()
        .into_unoptimized_plan();
    let arrow = failing.schema().as_arrow().clone();
    let op = CreateTable::new(lake.ident("f"), table_schema(&arrow, "default.f").unwrap());
    let e = op
        .create_as(
            lake.catalog.as_ref(),
            &lake.ctx.state(),
            failing,
            &HashMap::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, LakehouseError::DataFusion(_)), "{e:?}");
    assert!(!table_exists(lake.catalog.as_ref(), &lake.ident("f"))
        .await
        .unwrap());
    // Names that would leave the table's folder, and a missing schema.
    let bad = CreateTable::new(
        TableIdent::new(catalog::namespace("default"), "../x".to_string()),
        table_schema(&arrow, "default.x").unwrap(),
    );
    let e = bad.create(lake.catalog.as_ref()).await.unwrap_err();
    assert!(matches!(e, LakehouseError::InvalidName(_)), "{e:?}");
    let e = table_exists(
        lake.catalog.as_ref(),
        &TableIdent::new(catalog::namespace("nope"), "t".to_string()),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, LakehouseError::SchemaNotFound { schema } if schema == "nope"),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_replace_and_drop_purge() {
    let lake = Lake::open("ddl").await;
    lake.create("g", true).await;
    lake.append("g", &[(1, Some("a"))]).await;
    let target = lake.target("g");
    let base = target.load().await.unwrap();
    let mut alter = AlterTable::new(&target.name, &base);
    alter
        .add_column(
            "n".into(),
            iceberg::spec::Type::Primitive(iceberg::spec::PrimitiveType::Long),
            false,
        )
        .unwrap();
    alter.rename_column("v".into(), "w".into()).unwrap();
    let e = alter.drop_column("zz".into(), false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "table default.g has no column 'zz'; its columns: k, v"
    );
    alter.drop_column("zz".into(), true).unwrap();
    assert!(!alter.can_add_column("k", true).unwrap());
    assert!(matches!(
        alter.can_add_column("k", false),
        Err(LakehouseError::ColumnExists { .. })
    ));
    let done = alter.commit(&target, base).await.unwrap();
    let done: Vec<String> = done.iter().map(ToString::to_string).collect();
    assert_eq!(done, vec!["renamed column v to w", "added column n"]);
    // The renamed and added columns read at once (a snapshot of the new schema).
    assert_eq!(lake.read("g").await, vec!["1|a|"]);
    // A partition column cannot be dropped.
    let base = target.load().await.unwrap();
    let mut alter = AlterTable::new(&target.name, &base);
    alter.drop_column("k".into(), false).unwrap();
    let e = alter.commit(&target, base).await.unwrap_err();
    assert!(matches!(e, LakehouseError::PartitionColumn { .. }), "{e:?}");

    // Replace: another schema, unpartitioned, new rows; same table, history kept.
    let before = lake.load("g").await;
    let first = before.metadata().current_snapshot_id().unwrap();
    let arrow = ArrowSchema::new(vec![
        Field::new("k", DataType::Int32, true),
        Field::new("v", DataType::Utf8, true),
    ]);
    let replace = ReplaceTable {
        schema: table_schema(&arrow, "default.g").unwrap(),
        partition: vec![],
        properties: HashMap::from([("a".to_string(), "2".to_string())]),
    };
    let done = replace
        .run(
            &target,
            &lake.ctx.state(),
            Some(lake.rows(&[(7, Some("n")), (8, Some("m"))])),
        )
        .await
        .unwrap();
    assert_eq!(done, Replaced::Rows(2));
    assert_eq!(lake.read("g").await, vec!["7|n", "8|m"]);
    let after = lake.load("g").await;
    let m = after.metadata();
    assert_eq!(m.uuid(), before.metadata().uuid());
    assert!(m.snapshot_by_id(first).is_some(), "old snapshot kept");
    assert!(m.default_partition_spec().is_unpartitioned());
    assert_eq!(m.properties().get("a").map(String::as_str), Some("2"));
    // `k` kept its field id (same name and type); `v` is new (the old `v` was renamed).
    let old_k = before
        .metadata()
        .current_schema()
        .field_by_name("k")
        .unwrap()
        .id;
    assert_eq!(m.current_schema().field_by_name("k").unwrap().id, old_k);

    // DROP … PURGE deletes the files; a second drop finds no table.
    let data: Vec<String> = data_files(&lake.load("g").await)
        .await
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert!(!data.is_empty());
    assert_eq!(drop_purge(&target, false).await.unwrap(), Dropped::Purged);
    for f in &data {
        let path = f.strip_prefix("file://").unwrap_or(f);
        assert!(!std::path::Path::new(path).exists(), "{f} still there");
    }
    assert_eq!(drop_purge(&target, true).await.unwrap(), Dropped::Absent);
    assert!(matches!(
        drop_purge(&target, false).await,
        Err(LakehouseError::TableNotFound { .. })
    ));
    assert!(matches!(
        target.load().await,
        Err(LakehouseError::TableNotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_catalog_refuses_custom_commits_before_writing() {
    let lake = Lake::open("rest").await;
    lake.create("r", false).await;
    let mut target = lake.target("r");
    target.commit = CommitTarget::Rest;
    let e = overwrite(&target, &lake.ctx.state(), lake.rows(&[(1, None)]))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "INSERT OVERWRITE on default.r is not supported on the Iceberg REST catalog yet: \
         iceberg-rust 0.10's REST client can only append. Use INSERT INTO, or the embedded or \
         Nessie catalog"
    );
    let e = delete(&target, &lake.ctx.state(), None).await.unwrap_err();
    assert!(
        matches!(e, LakehouseError::RestCannotCommit { .. }),
        "{e:?}"
    );
    assert!(
        data_files(&lake.load("r").await).await.is_empty(),
        "nothing written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commit_fails_cleanly() {
    let lake = Lake::open("conflict").await;
    lake.create("c", false).await;
    lake.append("c", &[(1, None), (2, None)]).await;
    let target = lake.target("c");
    let base = target.load().await.unwrap();
    let change = SnapshotChange {
        operation: Operation::Delete,
        added: vec![],
        removal: Removal::All,
        properties: Default::default(),
    };
    let staged = stage_snapshot(&base, &base, change, vec![]).await.unwrap();
    let written = staged.written.clone();
    assert!(!written.is_empty());
    // Another writer commits first.
    lake.append("c", &[(3, None)]).await;
    let failure = commit(&target.commit, lake.catalog.as_ref(), &base, staged)
        .await
        .unwrap_err();
    assert!(!failure.state_unknown);
    assert!(
        failure
            .error
            .message()
            .contains("changed while this statement ran"),
        "{}",
        failure.error
    );
    for p in &written {
        assert!(!base.file_io().exists(p).await.unwrap(), "{p} left behind");
    }
    assert_eq!(lake.read("c").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_is_retried_after_appends_to_other_partitions_only() {
    let lake = Lake::open("retry").await;
    lake.create("r", true).await;
    lake.append("r", &[(1, Some("1"))]).await;
    let base = lake.load("r").await;
    let tasks: Vec<_> = base
        .scan()
        .build()
        .unwrap()
        .plan_files()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let p1 = tasks[0].partition.clone().unwrap();
    let removal = Removal::Partitions {
        spec_id: base.metadata().default_partition_spec_id(),
        partitions: [p1].into_iter().collect(),
    };
    // Another writer appends to partition k=2 meanwhile.
    lake.append("r", &[(2, Some("2"))]).await;
    let fresh = lake.load("r").await;
    assert!(only_disjoint_appends(&base, &fresh, &removal).await);
    assert!(!only_disjoint_appends(&base, &fresh, &Removal::All).await);
    // The overwrite of k=1 staged on the old state commits after one retry.
    let target = lake.target("r");
    let change = SnapshotChange {
        operation: Operation::Overwrite,
        added: vec![],
        removal: removal.clone(),
        properties: Default::default(),
    };
    target
        .commit_change(base.clone(), None, change.clone(), vec![], true)
        .await
        .unwrap();
    assert_eq!(lake.read("r").await, vec!["2|2"]);
    // An append into the overwritten partition is a conflict, not a lost row.
    lake.append("r", &[(1, Some("5"))]).await;
    let stale = lake.load("r").await;
    lake.append("r", &[(1, Some("6"))]).await;
    let x = target
        .commit_change(stale, None, change, vec![], true)
        .await
        .unwrap_err();
    assert!(
        matches!(&x, LakehouseError::Commit { failure, .. }
            if failure.error.kind() == ErrorKind::CatalogCommitConflicts && !failure.state_unknown),
        "{x:?}"
    );
    assert_eq!(lake.read("r").await.len(), 3);
}

#[test]
fn partition_specs_name_their_fields_and_refuse_bad_columns() {
    let arrow = ArrowSchema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new(
            "ts",
            DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
            true,
        ),
    ]);
    let schema = table_schema(&arrow, "default.p").unwrap();
    let spec = partition_spec(
        &schema,
        &[
            field("ts", Transform::Day),
            field("id", Transform::Bucket(16)),
            field("s", Transform::Truncate(4)),
        ],
        "default.p",
    )
    .unwrap()
    .unwrap();
    let names: Vec<_> = spec.fields().iter().map(|f| f.name.clone()).collect();
    assert_eq!(names, vec!["ts_day", "id_bucket", "s_trunc"]);
    assert!(partition_spec(&schema, &[], "default.p").unwrap().is_none());
    let e = partition_spec(&schema, &[field("tss", Transform::Day)], "default.p").unwrap_err();
    assert_eq!(
        e.to_string(),
        "PARTITIONED BY names column 'tss', which default.p does not have; its columns: id, s, ts"
    );
    let mut days_of_s = field("s", Transform::Day);
    days_of_s.written = "days(s)".into();
    let e = partition_spec(&schema, &[days_of_s], "default.p").unwrap_err();
    assert!(
        matches!(&e, LakehouseError::Partition(m) if m.starts_with("cannot partition default.p by days(s)")),
        "{e:?}"
    );
}

/// The codec of the first column chunk of each live data file of `table`, sorted.
async fn codecs(table: &Table) -> Vec<String> {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let mut out = vec![];
    for (path, _) in data_files(table).await {
        let bytes = table
            .file_io()
            .new_input(&path)
            .unwrap()
            .read()
            .await
            .unwrap();
        let reader = SerializedFileReader::new(bytes).unwrap();
        let meta = reader.metadata();
        out.push(format!(
            // The level is not stored in the file: only the codec.
            "{} row_groups={}",
            format!("{:?}", meta.row_group(0).column(0).compression())
                .split('(')
                .next()
                .unwrap_or_default(),
            meta.num_row_groups()
        ));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_files_are_written_with_the_tables_parquet_properties() {
    let lake = Lake::open("codec").await;
    lake.create("c", true).await;
    lake.append("c", &[(1, Some("a"))]).await;
    // Iceberg Java's default: zstd (level 3).
    assert_eq!(codecs(&lake.load("c").await).await, ["ZSTD row_groups=1"]);
    let set = |k: &str, v: &str| HashMap::from([(k.to_string(), v.to_string())]);
    let n = set_properties(
        &lake.target("c"),
        lake.load("c").await,
        set("write.parquet.compression-codec", "snappy"),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    lake.append("c", &[(2, Some("b"))]).await;
    assert_eq!(
        codecs(&lake.load("c").await).await,
        ["SNAPPY row_groups=1", "ZSTD row_groups=1"]
    );
    // A rewrite (DELETE keeps the other rows of a file) uses the table's codec too.
    lake.append("c", &[(3, Some("c")), (3, Some("d"))]).await;
    let target = lake.target("c");
    let deleted = delete(&target, &lake.ctx.state(), Some(col("v").eq(lit("c"))))
        .await
        .unwrap();
    assert!(
        matches!(
            deleted,
            Deleted::Rows {
                rows: 1,
                rewritten: 1,
                ..
            }
        ),
        "{deleted:?}"
    );
    assert_eq!(
        codecs(&lake.load("c").await).await,
        [
            "SNAPPY row_groups=1",
            "SNAPPY row_groups=1",
            "ZSTD row_groups=1"
        ]
    );
    // A property the writer cannot honour is refused and changes nothing.
    let before = lake.load("c").await.metadata().properties().clone();
    let e = set_properties(
        &lake.target("c"),
        lake.load("c").await,
        set("write.parquet.compression-codec", "lzo"),
        vec![],
    )
    .await
    .unwrap_err();
    assert!(matches!(e, LakehouseError::InvalidProperty(_)), "{e}");
    assert!(e.to_string().contains("'lzo'"), "{e}");
    assert_eq!(lake.load("c").await.metadata().properties(), &before);
    // Small row groups by size: 20,000 rows of 1 KiB strings at 1 MiB per row group.
    set_properties(
        &lake.target("c"),
        lake.load("c").await,
        HashMap::from([
            (
                "write.parquet.row-group-size-bytes".to_string(),
                "1048576".to_string(),
            ),
            (
                "write.parquet.compression-codec".to_string(),
                "uncompressed".to_string(),
            ),
        ]),
        vec![],
    )
    .await
    .unwrap();
    // 20 batches of 1,000 distinct 1 KiB strings (about 20 MiB): several row groups, where
    // there would be one without the property (parquet-rs's estimate of a group's size
    // while it is being written is rough, so the count is not 20).
    let batches: Vec<RecordBatch> = (0..20)
        .map(|b| {
            let k: ArrayRef = Arc::new(Int32Array::from(vec![9; 1000]));
            let v: ArrayRef = Arc::new(StringArray::from(
                (0..1000)
                    .map(|i| format!("{:01024}", b * 1000 + i))
                    .collect::<Vec<_>>(),
            ));
            RecordBatch::try_from_iter(vec![("k", k), ("v", v)]).unwrap()
        })
        .collect();
    let plan = lake
        .ctx
        .read_batches(batches)
        .unwrap()
        .into_unoptimized_plan();
    append(&lake.target("c"), &lake.ctx.state(), plan)
        .await
        .unwrap();
    let all = codecs(&lake.load("c").await).await;
    let big = all.iter().find(|c| c.starts_with("UNCOMPRESSED")).unwrap();
    let groups: usize = big.rsplit('=').next().unwrap().parse().unwrap();
    assert!(groups >= 2, "{all:?}");
}
