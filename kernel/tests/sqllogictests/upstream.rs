//! DataFusion's own sqllogictest files, run through the kernel's session to show that its
//! parser, rewrites and Iceberg catalog change nothing in standard SQL.
//!
//! The files are not copied into this repository: they ship in the crates.io package
//! `datafusion-sqllogictest` of the DataFusion version the kernel is built on. They are read
//! from cargo's registry when some build unpacked the package there, else from the shared
//! download cache (`~/.cache/lakehouse/downloads`, `TEST_SERVICES_DOWNLOADS`, as
//! tests/services uses), where the package is fetched once and checked against the SHA-256
//! crates.io publishes for it.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use sqllogictest::{ExpectedError, QueryExpect, Record, StatementExpect};

use crate::db::Col;

/// The package: the version of DataFusion in Cargo.lock.
const PACKAGE: &str = "datafusion-sqllogictest-53.1.0";
/// crates.io's checksum of `datafusion-sqllogictest-53.1.0.crate` (its index's `cksum`).
const SHA256: &str = "04e5a4a7a49143a68936992b6dbb0db44121c635e9992b2482817278f1e69c56";

/// The upstream files that run (24). Left out, with the reason (see README.md): files that
/// read data DataFusion keeps outside the package (`../../testing/data/…`: aggregate.slt,
/// window.slt, joins.slt, group_by.slt, window_limits.slt, aggregate_skip_partial.slt, …);
/// files whose tables hold types Iceberg cannot store (dictionaries, intervals, time stamps
/// with a zone other than UTC, nanoseconds: case.slt, coalesce.slt, datetime/interval.slt,
/// datetime/date_part.slt, regexp/regexp_like.slt); files that compare unordered results in
/// the order of DataFusion's memory tables (join_is_not_distinct_from.slt,
/// sort_merge_join.slt); pipe_operator.slt (it switches `datafusion.sql_parser.dialect`,
/// which the kernel's own parser does not follow); min_max/list.slt (list columns read back
/// from an Iceberg table fail with "column types must match schema types": a bug still
/// open); and files about DataFusion's plans or its own runner's tables and functions.
pub const FILES: &[&str] = &[
    // aggregates
    "aggregates_topk.slt",
    "grouping.slt",
    // joins
    "join_lists.slt",
    "null_aware_anti_join.slt",
    "same_column_name_cross_join.slt",
    // window functions
    "qualify.slt",
    // dates and times
    "datetime/dates.slt",
    "datetime/arith_date_time.slt",
    "datetime/arith_date_integer.slt",
    "datetime/arith_timestamp_duration.slt",
    "datetime/arith_time_interval.slt",
    // strings
    "strings.slt",
    "string/string.slt",
    "string/large_string.slt",
    "string/string_literal.slt",
    "regexp/regexp_replace.slt",
    "regexp/regexp_count.slt",
    "regexp/regexp_match.slt",
    "regexp/regexp_instr.slt",
    // expressions and set operations
    "nullif.slt",
    "nvl.slt",
    "nvl2.slt",
    "union_by_name.slt",
    "misc.slt",
];

/// Why an upstream record is changed before it runs, or skipped: the kernel's deliberate
/// differences from DataFusion's own session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Adapted {
    /// EXPLAIN shows the kernel's plan (Iceberg scans, its optimizer rules), not DataFusion's.
    Explain,
    /// Errors are rewritten for notebook users: only that the statement fails is checked.
    ErrorText,
    /// INSERT answers with a sentence, not DataFusion's one-row count: the rows go in, the
    /// count is not compared.
    InsertCount,
}

impl Adapted {
    /// The reason, for the report.
    pub fn reason(self) -> &'static str {
        match self {
            Adapted::Explain => {
                "skipped: EXPLAIN shows the kernel's plan (Iceberg scans, its rules)"
            }
            Adapted::ErrorText => {
                "error text not compared (the kernel rewrites errors for notebook users)"
            }
            Adapted::InsertCount => {
                "INSERT row count not compared (the kernel answers with a sentence)"
            }
        }
    }
}

/// `record` as it runs here: `Ok(None)` when it runs as written, `Ok(Some(why))` when it
/// was changed, `Err(why)` when it is skipped.
pub fn adapt(record: &mut Record<Col>) -> Result<Option<Adapted>, Adapted> {
    match record {
        Record::Statement { sql, expected, .. } => {
            if starts_with_word(sql, "EXPLAIN") {
                return Err(Adapted::Explain);
            }
            if let StatementExpect::Error(e) = expected {
                if !matches!(e, ExpectedError::Empty) {
                    *e = ExpectedError::Empty;
                    return Ok(Some(Adapted::ErrorText));
                }
            }
            Ok(None)
        }
        Record::Query {
            sql,
            expected,
            loc,
            conditions,
            connection,
            retry,
        } => {
            if starts_with_word(sql, "EXPLAIN") {
                return Err(Adapted::Explain);
            }
            match expected {
                QueryExpect::Error(e) if !matches!(e, ExpectedError::Empty) => {
                    *e = ExpectedError::Empty;
                    Ok(Some(Adapted::ErrorText))
                }
                QueryExpect::Results { .. } if starts_with_word(sql, "INSERT") => {
                    *record = Record::Statement {
                        loc: loc.clone(),
                        conditions: std::mem::take(conditions),
                        connection: std::mem::take(connection),
                        sql: std::mem::take(sql),
                        expected: StatementExpect::Ok,
                        retry: retry.take(),
                    };
                    Ok(Some(Adapted::InsertCount))
                }
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

fn starts_with_word(sql: &str, word: &str) -> bool {
    let t = sql.trim_start();
    t.get(..word.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(word))
        && t[word.len()..].starts_with(|c: char| c.is_whitespace())
}

/// The package's `test_files` folder: found, or fetched once and verified.
pub fn test_files() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("LAKEHOUSE_SLT_UPSTREAM_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")));
    if let Some(src) = cargo_home.map(|c| c.join("registry/src")) {
        for index in std::fs::read_dir(&src).into_iter().flatten().flatten() {
            let dir = index.path().join(PACKAGE).join("test_files");
            if dir.is_dir() {
                return Ok(dir);
            }
        }
    }
    let downloads = std::env::var_os("TEST_SERVICES_DOWNLOADS")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cache/lakehouse/downloads")))
        .ok_or("no home folder for the download cache")?;
    let dir = downloads.join(PACKAGE).join("test_files");
    if !dir.is_dir() {
        fetch(&downloads)?;
    }
    Ok(dir)
}

/// Downloads the package into `downloads`, checks its SHA-256 and unpacks it (into a temp
/// folder renamed into place, so a concurrent run never sees half a package).
fn fetch(downloads: &Path) -> Result<(), String> {
    std::fs::create_dir_all(downloads).map_err(|e| format!("{}: {e}", downloads.display()))?;
    let url = format!("https://static.crates.io/crates/datafusion-sqllogictest/{PACKAGE}.crate");
    let tmp = downloads.join(format!(".{PACKAGE}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let archive = tmp.join(format!("{PACKAGE}.crate"));
    eprintln!("fetching {url} (once, into {})", downloads.display());
    let got = Command::new("curl")
        .args(["-sSfL", "--retry", "3", "-o"])
        .arg(&archive)
        .arg(&url)
        .status()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    if !got.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(format!("cannot download {url} (curl: {got})"));
    }
    let bytes = std::fs::read(&archive).map_err(|e| e.to_string())?;
    let digest = hex::encode(Sha256::digest(&bytes));
    if digest != SHA256 {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(format!(
            "{url}: SHA-256 {digest} is not the published {SHA256}"
        ));
    }
    let unpacked = Command::new("tar")
        .arg("xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&tmp)
        .status()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    if !unpacked.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(format!("cannot unpack {}", archive.display()));
    }
    let target = downloads.join(PACKAGE);
    match std::fs::rename(tmp.join(PACKAGE), &target) {
        // Another run put it there first.
        Err(_) if target.join("test_files").is_dir() => {}
        Err(e) => {
            return Err(format!(
                "cannot move the package to {}: {e}",
                target.display()
            ))
        }
        Ok(()) => {}
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
