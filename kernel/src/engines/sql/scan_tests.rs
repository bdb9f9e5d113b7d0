//! Scans of Iceberg tables read in several partitions (`catalog::parallel`) and give the
//! same rows as before: filters, projections and time travel included.

use super::tests_support::{engine_with, last_table, rows, run, tempdir};
use super::Output;

fn explain_text(outs: &[Output]) -> String {
    rows(last_table(outs))
        .into_iter()
        .map(|r| r.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_files_scan_in_several_partitions_with_the_same_rows() {
    let dir = tempdir("split-files");
    let e = engine_with(&dir, &[("LAKEHOUSE_TARGET_PARTITIONS", "4")]).await;
    run(
        &e,
        "CREATE SCHEMA s; CREATE TABLE s.t (id BIGINT, s STRING)",
    )
    .await
    .1
    .unwrap();
    // Five appends: five data files.
    for i in 0..5 {
        let sql = format!(
            "INSERT INTO s.t SELECT value, 'v' || value FROM range({}, {})",
            i * 100,
            (i + 1) * 100
        );
        run(&e, &sql).await.1.unwrap();
    }
    let (outs, r) = run(&e, "SELECT count(*) FROM s.t.files").await;
    r.unwrap();
    let files: usize = rows(last_table(&outs))[0][0].parse().unwrap();
    assert!(files >= 5, "{files} files");

    let (outs, r) = run(&e, "EXPLAIN SELECT id, s FROM s.t").await;
    r.unwrap();
    let plan = explain_text(&outs);
    assert!(plan.contains("IcebergSplitScan partitions:[4]"), "{plan}");

    let (outs, r) = run(&e, "SELECT count(*), sum(id), count(DISTINCT s) FROM s.t").await;
    r.unwrap();
    assert_eq!(rows(last_table(&outs)), [["500", "124750", "500"]]);
    // Filters still reach the scan and the rows are the same.
    let (outs, r) = run(&e, "EXPLAIN SELECT s FROM s.t WHERE id >= 490").await;
    r.unwrap();
    assert!(
        explain_text(&outs).contains("predicate:[id >= 490]"),
        "{}",
        explain_text(&outs)
    );
    let (outs, r) = run(&e, "SELECT s FROM s.t WHERE id >= 490 ORDER BY id").await;
    r.unwrap();
    let got: Vec<String> = rows(last_table(&outs))
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let want: Vec<String> = (490..500).map(|i| format!("v{i}")).collect();
    assert_eq!(got, want);
    let (outs, r) = run(&e, "SELECT * FROM s.t LIMIT 7").await;
    r.unwrap();
    assert_eq!(last_table(&outs).total_rows, 7);

    // Time travel: the first snapshot has the first file only, and is split too.
    let (outs, r) = run(
        &e,
        "SELECT snapshot_id FROM s.t.snapshots ORDER BY committed_at LIMIT 1",
    )
    .await;
    r.unwrap();
    let first = rows(last_table(&outs))[0][0].clone();
    let (outs, r) = run(
        &e,
        &format!("SELECT count(*), max(id) FROM s.t VERSION AS OF {first}"),
    )
    .await;
    r.unwrap();
    assert_eq!(rows(last_table(&outs)), [["100", "99"]]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_large_file_is_read_in_byte_ranges() {
    let dir = tempdir("split-ranges");
    let e = engine_with(&dir, &[("LAKEHOUSE_TARGET_PARTITIONS", "4")]).await;
    // About 3 million rows in one write: several row groups of a large file.
    run(
        &e,
        "CREATE SCHEMA s; CREATE TABLE s.big AS SELECT value AS id, value * 7 % 1000003 AS x FROM range(3000000)",
    )
    .await
    .1
    .unwrap();
    let (outs, r) = run(
        &e,
        "SELECT count(*), max(file_size_in_bytes) FROM s.big.files",
    )
    .await;
    r.unwrap();
    let row = &rows(last_table(&outs))[0];
    let (files, biggest): (usize, u64) = (row[0].parse().unwrap(), row[1].parse().unwrap());
    let (outs, r) = run(&e, "EXPLAIN SELECT id FROM s.big").await;
    r.unwrap();
    let plan = explain_text(&outs);
    if files < 4 {
        assert!(biggest > 8 * 1024 * 1024, "{biggest} bytes");
    }
    assert!(plan.contains("IcebergSplitScan partitions:[4]"), "{plan}");
    let (outs, r) = run(
        &e,
        "SELECT count(*), sum(id), count(DISTINCT id) FROM s.big",
    )
    .await;
    r.unwrap();
    assert_eq!(
        rows(last_table(&outs)),
        [["3000000", "4499998500000", "3000000"]]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The notebook's preview of a table's rows reads only the rows it shows: with the table's
/// smaller file gone from storage, `SELECT *` still shows its first rows and the total from
/// the manifests, while a query that must read every file fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_of_a_table_reads_only_the_rows_shown() {
    let dir = tempdir("preview-limit");
    let e = engine_with(
        &dir,
        &[
            ("LAKEHOUSE_TARGET_PARTITIONS", "1"),
            ("LAKEHOUSE_MAX_ROWS", "3"),
        ],
    )
    .await;
    run(
        &e,
        "CREATE SCHEMA s; CREATE TABLE s.t (id BIGINT, s STRING);
         INSERT INTO s.t SELECT value, 'v' || value FROM range(0, 1000);
         INSERT INTO s.t VALUES (1000, 'last')",
    )
    .await
    .1
    .unwrap();
    let (outs, r) = run(
        &e,
        "SELECT file_path FROM s.t.files ORDER BY file_size_in_bytes LIMIT 1",
    )
    .await;
    r.unwrap();
    let small = rows(last_table(&outs))[0][0].clone();
    let path = small.strip_prefix("file://").unwrap_or(&small);
    std::fs::remove_file(path).unwrap();

    let (outs, r) = run(&e, "SELECT * FROM s.t").await;
    r.unwrap();
    let t = last_table(&outs);
    assert_eq!(t.total_rows, 1001);
    assert_eq!(rows(t).len(), 3);
    // A filter makes the count unknown: every file is read, and the missing one is an error.
    let (_, r) = run(&e, "SELECT * FROM s.t WHERE id >= 0").await;
    assert!(r.is_err());
}
