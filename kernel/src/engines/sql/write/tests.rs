//! The write statements on the embedded catalog, through a real `SqlEngine` on a temp folder:
//! what needs files or metadata. SQL-only checks are in kernel/tests/slt/writes.slt; the table
//! operations themselves are tested from plain Rust in `crate::lakehouse`.

use datafusion::arrow::util::display::array_value_to_string;
use iceberg::spec::Transform;

use super::super::tests_support::{engine, run, tempdir};
use super::super::{Output, SqlEngine};
use crate::catalog;
use crate::error::CellError;
use crate::lakehouse;
use crate::lakehouse::test_support::data_files;

async fn ok(e: &SqlEngine, sql: &str) -> Vec<String> {
    let (outs, r) = run(e, sql).await;
    if let Err(err) = r {
        panic!("{sql}\nfailed: {err:?}");
    }
    outs.into_iter()
        .filter_map(|o| match o {
            Output::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

async fn err(e: &SqlEngine, sql: &str) -> CellError {
    run(e, sql).await.1.expect_err(sql)
}

/// The rows of a query, each cell as text.
async fn rows(e: &SqlEngine, sql: &str) -> Vec<Vec<String>> {
    let (outs, r) = run(e, sql).await;
    r.unwrap_or_else(|err| panic!("{sql}\nfailed: {err:?}"));
    let Some(Output::Table(t)) = outs.last() else {
        panic!("{sql} returned no table: {outs:?}");
    };
    let mut all = vec![];
    for b in &t.batches {
        for i in 0..b.num_rows() {
            all.push(
                b.columns()
                    .iter()
                    .map(|c| array_value_to_string(c, i).unwrap())
                    .collect(),
            );
        }
    }
    all
}

fn flat(rows: Vec<Vec<String>>) -> Vec<String> {
    rows.into_iter().map(|r| r.join("|")).collect()
}

async fn table(e: &SqlEngine, schema: &str, name: &str) -> iceberg::table::Table {
    let ident = iceberg::TableIdent::new(catalog::namespace(schema), name.to_string());
    e.catalog.iceberg().load_table(&ident).await.unwrap()
}

/// Snapshot operations from the first to the current one (following parent ids).
async fn operations(e: &SqlEngine, schema: &str, name: &str) -> Vec<String> {
    let t = table(e, schema, name).await;
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

async fn current_snapshot(e: &SqlEngine, schema: &str, name: &str) -> Option<i64> {
    table(e, schema, name)
        .await
        .metadata()
        .current_snapshot_id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctas_partitioned_and_replace_keeps_history() {
    let dir = tempdir("replace");
    let e = engine(&dir).await;
    let msgs = ok(
        &e,
        "CREATE TABLE f PARTITIONED BY (k) TBLPROPERTIES ('a'='1') AS
           SELECT * FROM (VALUES (1, 'x'), (2, 'y'), (2, 'z')) v(k, s)",
    )
    .await;
    assert_eq!(
        msgs,
        vec!["Created table default.f with 3 rows, partitioned by k"]
    );
    assert_eq!(data_files(&table(&e, "default", "f").await).await.len(), 2);
    let before = table(&e, "default", "f").await;
    let uuid = before.metadata().uuid();
    let first_snapshot = before.metadata().current_snapshot_id().unwrap();
    // Same schema, new rows.
    ok(
        &e,
        "CREATE OR REPLACE TABLE f PARTITIONED BY (k) AS SELECT 7 AS k, 'n' AS s",
    )
    .await;
    assert_eq!(flat(rows(&e, "SELECT k, s FROM f").await), vec!["7|n"]);
    // Another schema and spec, same table.
    ok(
        &e,
        "CREATE OR REPLACE TABLE f TBLPROPERTIES ('a'='2') AS SELECT 1.5 AS price, 'q' AS s",
    )
    .await;
    assert_eq!(flat(rows(&e, "SELECT * FROM f").await), vec!["1.5|q"]);
    let after = table(&e, "default", "f").await;
    let m = after.metadata();
    assert_eq!(m.uuid(), uuid);
    assert!(
        m.snapshot_by_id(first_snapshot).is_some(),
        "old snapshot kept"
    );
    assert_eq!(
        operations(&e, "default", "f").await,
        vec!["append", "overwrite", "overwrite"]
    );
    assert!(m.default_partition_spec().is_unpartitioned());
    assert_eq!(m.properties().get("a").map(String::as_str), Some("2"));
    let names: Vec<_> = m
        .current_schema()
        .as_struct()
        .fields()
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(names, vec!["price", "s"]);
    // Time travel to the first snapshot still reads the old rows with the old schema.
    assert_eq!(
        rows(
            &e,
            &format!("SELECT count(*) FROM f VERSION AS OF {first_snapshot}")
        )
        .await,
        vec![vec!["3".to_string()]]
    );
    // A failing replace leaves the table as it was.
    let snap = current_snapshot(&e, "default", "f").await;
    let x = err(
        &e,
        "CREATE OR REPLACE TABLE f AS SELECT CAST(CAST(x AS STRING) || 'x' AS INT) AS y FROM (VALUES (1)) v(x)",
    )
    .await;
    assert!(!x.evalue.is_empty());
    assert_eq!(current_snapshot(&e, "default", "f").await, snap);
    assert_eq!(flat(rows(&e, "SELECT * FROM f").await), vec!["1.5|q"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_drops_whole_files_and_rewrites_partial_ones() {
    let dir = tempdir("delete");
    let e = engine(&dir).await;
    ok(&e, "CREATE TABLE d (k INT, v STRING) PARTITIONED BY (k)").await;
    ok(
        &e,
        "INSERT INTO d VALUES (1, 'a'), (1, 'b'), (2, 'x'), (2, 'keep'), (2, NULL), (3, 'c')",
    )
    .await;
    assert_eq!(data_files(&table(&e, "default", "d").await).await.len(), 3);
    let msgs = ok(&e, "DELETE FROM d WHERE k = 1 OR v = 'x'").await;
    assert!(
        msgs[0].starts_with("Deleted 3 rows from default.d (1 data file dropped, 1 rewritten)"),
        "{msgs:?}"
    );
    // The NULL row does not match v = 'x' (NULL, not TRUE) and stays.
    assert_eq!(
        flat(rows(&e, "SELECT k, v FROM d ORDER BY k, v NULLS LAST").await),
        vec!["2|keep", "2|", "3|c"]
    );
    assert_eq!(
        operations(&e, "default", "d").await,
        vec!["append", "overwrite"]
    );
    // Decided by the partition value alone: the file is not even read (it is garbage now).
    let k3 = data_files(&table(&e, "default", "d").await)
        .await
        .into_iter()
        .find(|(p, _)| p.contains("k=3"))
        .expect("a file of partition k=3")
        .0;
    std::fs::write(k3.strip_prefix("file://").unwrap_or(&k3), b"not parquet").unwrap();
    let msgs = ok(&e, "DELETE FROM d WHERE k = 3").await;
    assert!(
        msgs[0].starts_with("Deleted 1 row from default.d (1 data file dropped, 0 rewritten)"),
        "{msgs:?}"
    );
    assert_eq!(
        operations(&e, "default", "d").await.last().unwrap(),
        "delete"
    );
    // Nothing matches: no commit.
    let snap = current_snapshot(&e, "default", "d").await;
    let msgs = ok(&e, "DELETE FROM d WHERE v = 'nothing'").await;
    assert!(msgs[0].starts_with("Deleted 0 rows"), "{msgs:?}");
    assert_eq!(current_snapshot(&e, "default", "d").await, snap);
    // No WHERE: everything.
    ok(&e, "DELETE FROM d").await;
    assert_eq!(
        rows(&e, "SELECT count(*) FROM d").await,
        vec![vec!["0".to_string()]]
    );
    assert_eq!(
        operations(&e, "default", "d").await.last().unwrap(),
        "delete"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Stray files in a table's data and metadata folders are its orphans; files the table
/// references, files of a table whose folder lies inside its own, and files newer than
/// `older_than` are not. A dry run deletes nothing; the real run leaves the table reading the
/// same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_orphan_files_deletes_only_unreferenced_files() {
    let dir = tempdir("orphans");
    let e = engine(&dir).await;
    ok(&e, "CREATE SCHEMA o").await;
    ok(&e, "CREATE TABLE o.t (a INT)").await;
    ok(&e, "INSERT INTO o.t VALUES (1), (2)").await;
    ok(&e, "INSERT OVERWRITE o.t VALUES (3)").await;
    let t = table(&e, "o", "t").await;
    let root = lakehouse::canonical_location(t.metadata().location());
    // Another table's folder inside o.t's data folder (a nested namespace named `data`, as
    // Spark can create in a shared catalog): never o.t's orphans.
    let inner_root = format!("{root}/data/inner");
    for f in ["metadata/00001-x.metadata.json", "data/part-0.parquet"] {
        let path = format!("{inner_root}/{f}");
        std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
        std::fs::write(&path, b"another table").unwrap();
    }
    let stray = [
        format!("{root}/data/crashed-00000.parquet"),
        format!("{root}/metadata/snap-crashed.avro"),
        format!("{root}/metadata/99999-crashed.metadata.json"),
    ];
    for f in &stray {
        std::fs::write(f, b"left by a crash").unwrap();
    }
    let before = std::collections::BTreeSet::from_iter(
        lakehouse::list_files(&root, &Default::default())
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.location),
    );
    // Newer than the default window (three days): nothing to remove.
    let msgs = ok(&e, "CALL system.remove_orphan_files(table => 'o.t')").await;
    assert!(msgs[0].starts_with("Removed 0 orphan files"), "{msgs:?}");
    let future = "older_than => now() + INTERVAL '1 hour'";
    let listed = rows(
        &e,
        &format!("CALL system.remove_orphan_files(table => 'o.t', {future}, dry_run => true)"),
    )
    .await;
    let mut expected: Vec<String> = stray.to_vec();
    expected.sort();
    assert_eq!(
        listed.iter().map(|r| r[0].clone()).collect::<Vec<_>>(),
        expected
    );
    for f in &stray {
        assert!(std::path::Path::new(f).exists(), "a dry run deleted {f}");
    }
    let msgs = ok(
        &e,
        &format!("CALL system.remove_orphan_files(table => 'o.t', {future})"),
    )
    .await;
    assert!(msgs[0].starts_with("Removed 3 orphan files"), "{msgs:?}");
    let after = std::collections::BTreeSet::from_iter(
        lakehouse::list_files(&root, &Default::default())
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.location),
    );
    let gone: Vec<&String> = before.difference(&after).collect();
    assert_eq!(gone.len(), 3, "{gone:?}");
    assert!(
        after
            .iter()
            .any(|f| f.starts_with(&format!("{inner_root}/"))),
        "the inner table's files went"
    );
    assert_eq!(flat(rows(&e, "SELECT a FROM o.t").await), vec!["3"]);
    // Time travel to the first snapshot still finds its files.
    let first = t
        .metadata()
        .snapshots()
        .find(|s| s.parent_snapshot_id().is_none())
        .unwrap()
        .snapshot_id();
    assert_eq!(
        flat(
            rows(
                &e,
                &format!("SELECT a FROM o.t VERSION AS OF {first} ORDER BY a")
            )
            .await
        ),
        vec!["1", "2"]
    );
    let e2 = err(&e, "CALL system.remove_orphan_files(table => 'o.missing')").await;
    assert_eq!(e2.kind, crate::error::ErrorKind::TableNotFound, "{e2:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_purge_and_alter_columns() {
    let dir = tempdir("ddl");
    let e = engine(&dir).await;
    ok(&e, "CREATE TABLE g (a INT)").await;
    ok(&e, "INSERT INTO g VALUES (1)").await;
    let msgs = ok(&e, "ALTER TABLE g ADD COLUMN b STRING").await;
    assert_eq!(msgs, vec!["Altered table default.g: added column b"]);
    ok(&e, "INSERT INTO g VALUES (2, 'two')").await;
    ok(&e, "ALTER TABLE g RENAME COLUMN b TO c").await;
    assert_eq!(
        flat(rows(&e, "SELECT a, c FROM g ORDER BY a").await),
        vec!["1|", "2|two"]
    );
    ok(&e, "ALTER TABLE g DROP COLUMN c").await;
    assert_eq!(
        flat(rows(&e, "SELECT * FROM g ORDER BY a").await),
        vec!["1", "2"]
    );
    let x = err(&e, "ALTER TABLE g DROP COLUMN zz").await;
    assert!(
        x.evalue.contains("'zz'") && x.evalue.contains("columns: a"),
        "{}",
        x.evalue
    );
    let data: Vec<String> = data_files(&table(&e, "default", "g").await)
        .await
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert!(!data.is_empty());
    let location = table(&e, "default", "g")
        .await
        .metadata()
        .location()
        .to_string();
    let msgs = ok(&e, "DROP TABLE g PURGE").await;
    assert!(
        msgs[0].contains("deleted its data and metadata files"),
        "{msgs:?}"
    );
    assert_eq!(err(&e, "SELECT * FROM g").await.ename(), "TableNotFound");
    for f in &data {
        let path = f.strip_prefix("file://").unwrap_or(f);
        assert!(
            !std::path::Path::new(path).exists(),
            "{f} still there ({location})"
        );
    }
    let msgs = ok(&e, "DROP TABLE IF EXISTS g PURGE").await;
    assert_eq!(msgs, vec!["Table default.g does not exist"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn spark_clauses_are_cut_out_exactly() {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::Tokenizer;
    let sql = "CREATE OR REPLACE TABLE demo.t (id BIGINT, `note` STRING)\n  USING iceberg\n  PARTITIONED BY (days(ts), bucket(16, id))\n  TBLPROPERTIES ('k'='it''s', \"x\" = 2)\n  AS SELECT 'a''b' AS note";
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize_with_location()
        .unwrap();
    let c = super::create::split_create(sql, &tokens).unwrap();
    assert_eq!(c.using.as_deref(), Some("iceberg"));
    assert_eq!(c.partitioned_by, vec!["days(ts)", "bucket(16, id)"]);
    assert_eq!(
        c.properties,
        vec![
            ("k".to_string(), "it's".to_string()),
            ("x".to_string(), "2".to_string())
        ]
    );
    let squashed: String = c.rest.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        squashed,
        "CREATE OR REPLACE TABLE demo.t (id BIGINT, `note` STRING) AS SELECT 'a''b' AS note"
    );
    assert_eq!(
        super::create::partition_item("truncate(s, 4)").unwrap(),
        ("s".to_string(), Transform::Truncate(4))
    );
    assert!(super::create::partition_item("bucket(id)").is_err());
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = vec![];
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_cannot_leave_the_warehouse_or_enter_another_table() {
    // The warehouse three levels down, so `../../../..` from a schema folder would land in
    // `outside/` (and `../victim/t` in victim.t's folder) if names were used as paths.
    let root = tempdir("trav");
    let dir = root.join("a/b/home");
    let e = engine(&dir).await;
    ok(&e, "CREATE SCHEMA trav; CREATE SCHEMA victim").await;
    ok(
        &e,
        "CREATE TABLE victim.t (a INT); INSERT INTO victim.t VALUES (1)",
    )
    .await;
    let victim_before = files_under(&dir.join("warehouse/victim"));
    let before = files_under(&root);
    for sql in [
        "CREATE TABLE trav.`../../../../trav-escape-table` (a INT)",
        "CREATE TABLE trav.`../../../../trav-escape-ctas` AS SELECT 1 AS a",
        "CREATE TABLE trav.`../victim/t` (a INT)",
        "CREATE TABLE trav.`../victim/t` AS SELECT 2 AS a",
        "CREATE OR REPLACE TABLE trav.`..` (a INT)",
        "CREATE TABLE IF NOT EXISTS trav.`a\\b` (a INT)",
        "CREATE TABLE trav.`.` (a INT)",
        "CREATE SCHEMA `../../x`",
        "CREATE SCHEMA `a/b`",
        "CREATE SCHEMA IF NOT EXISTS `..`",
    ] {
        let x = err(&e, sql).await;
        assert_eq!(x.ename(), "NameError", "{sql}: {x:?}");
        assert!(
            x.evalue.contains("name '") && x.evalue.contains("may not be empty, '.' or '..'"),
            "{sql}: {}",
            x.evalue
        );
    }
    assert_eq!(files_under(&root), before, "no file written anywhere");
    assert_eq!(files_under(&dir.join("warehouse/victim")), victim_before);
    assert_eq!(
        rows(&e, "SELECT a FROM victim.t").await,
        vec![vec!["1".to_string()]]
    );
    // What the error proposes works, and a name with dots or spaces stays in its folder.
    ok(
        &e,
        "CREATE TABLE trav.`victim_t` (a INT); CREATE TABLE trav.`v 1.x` (a INT)",
    )
    .await;
    ok(&e, "INSERT INTO trav.`v 1.x` VALUES (3)").await;
    for f in files_under(&dir) {
        assert!(
            f == "catalog.db"
                || f.starts_with("warehouse/victim/t/")
                || f.starts_with("warehouse/trav/victim_t/")
                || f.starts_with("warehouse/trav/v 1.x/"),
            "{f} outside its table's folder"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Not a test of behaviour but the measurement behind the commit backoff's jitter:
/// `cargo test --release -p lakehouse-kernel --lib commit_latency -- --ignored --nocapture`.
/// Eight sessions on one embedded catalog (as eight kernels) append to one table at once,
/// five rounds, with iceberg's fixed schedule and with jitter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn commit_latency_of_8_concurrent_writers() {
    use std::sync::atomic::Ordering;
    const WRITERS: usize = 8;
    const ROUNDS: usize = 5;
    for jitter in [false, true] {
        lakehouse::NO_JITTER.store(!jitter, Ordering::Relaxed);
        let dir = tempdir(&format!("latency-{jitter}"));
        let first = engine(&dir).await;
        ok(&first, "CREATE TABLE w (a INT)").await;
        let mut engines = vec![std::sync::Arc::new(first)];
        for _ in 1..WRITERS {
            engines.push(std::sync::Arc::new(engine(&dir).await));
        }
        let mut latencies = vec![];
        for _ in 0..ROUNDS {
            let tasks: Vec<_> = engines
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let e = e.clone();
                    tokio::spawn(async move {
                        let t = std::time::Instant::now();
                        ok(&e, &format!("INSERT INTO w VALUES ({i})")).await;
                        t.elapsed().as_secs_f64()
                    })
                })
                .collect();
            for t in tasks {
                latencies.push(t.await.unwrap());
            }
        }
        latencies.sort_by(f64::total_cmp);
        let at = |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).max(1) - 1];
        println!(
            "jitter={jitter}: {} commits, p50 {:.2} s, p90 {:.2} s, p99 {:.2} s, max {:.2} s",
            latencies.len(),
            at(0.5),
            at(0.9),
            at(0.99),
            latencies.last().unwrap()
        );
        assert_eq!(
            rows(&engines[0], "SELECT count(*) FROM w").await,
            vec![vec![(WRITERS * ROUNDS).to_string()]]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    lakehouse::NO_JITTER.store(false, Ordering::Relaxed);
}

/// The one mapping from the table operations' errors to the cell's: the names and messages
/// the SQL statements gave before the operations moved to `crate::lakehouse`.
#[test]
fn operation_errors_keep_their_names_and_messages() {
    use crate::lakehouse::{CommitFailure, LakehouseError as L};
    use iceberg::ErrorKind;
    let commit = |kind, state_unknown| L::Commit {
        table: "default.r".into(),
        failure: Box::new(CommitFailure {
            error: iceberg::Error::new(kind, "it moved"),
            state_unknown,
        }),
    };
    let conflict = commit(ErrorKind::CatalogCommitConflicts, false);
    assert_eq!(super::kind(&conflict).ename(), "CommitConflict");
    assert_eq!(conflict.to_string(), "cannot commit to default.r: it moved");
    let unsupported = commit(ErrorKind::FeatureUnsupported, false);
    assert_eq!(super::kind(&unsupported).ename(), "NotSupported");
    let unknown = commit(ErrorKind::Unexpected, true);
    assert_eq!(super::kind(&unknown).ename(), "CatalogError");
    assert_eq!(
        unknown.to_string(),
        "cannot commit to default.r: it moved — the catalog could not say whether the commit \
         landed; check the table's history ($snapshots) before running the statement again"
    );
    let iceberg = L::iceberg(
        "cannot load table default.t",
        iceberg::Error::new(ErrorKind::Unexpected, "down"),
    );
    assert_eq!(super::kind(&iceberg).ename(), "CatalogError");
    assert_eq!(
        iceberg.to_string(),
        format!(
            "cannot load table default.t: {}",
            iceberg::Error::new(ErrorKind::Unexpected, "down")
        )
    );
    for (e, ename) in [
        (L::InvalidName("x".into()), "NameError"),
        (L::Partition("x".into()), "PartitionError"),
        (L::UnstorableType("x".into()), "TypeError"),
        (
            L::ColumnNotFound {
                table: "t".into(),
                column: "c".into(),
                columns: "a".into(),
            },
            "ColumnNotFound",
        ),
        (
            L::RestCannotCommit {
                what: "DELETE".into(),
                table: "t".into(),
            },
            "NotSupported",
        ),
        (L::TableExists { table: "t".into() }, "CatalogError"),
    ] {
        assert_eq!(super::kind(&e).ename(), ename, "{e}");
    }
    assert_eq!(
        L::TableExists {
            table: "default.t".into()
        }
        .to_string(),
        "table default.t already exists; use CREATE TABLE IF NOT EXISTS to skip it, CREATE OR \
         REPLACE TABLE to replace it, or DROP TABLE default.t first"
    );
}
