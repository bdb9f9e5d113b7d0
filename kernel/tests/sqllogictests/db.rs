//! The kernel's SQL session as a sqllogictest database: each record's SQL runs as a cell
//! would run it (`Session::query`, every row kept), and results become rows of text the way
//! DataFusion's own sqllogictest runner writes them, so DataFusion's `.slt` files read the
//! same here.

use std::collections::BTreeMap;
use std::time::Duration;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Fields};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{array_value_to_string, ArrayFormatter};
use lakehouse_kernel::engines::sql::SqlEngine;
use lakehouse_kernel::engines::Session;
use lakehouse_kernel::settings::Settings;
use sqllogictest::{ColumnType, DBOutput};

/// A column's type letter in a `query` record, as DataFusion's runner assigns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Col {
    /// `B`
    Boolean,
    /// `D`: dates and times of day.
    DateTime,
    /// `I`
    Integer,
    /// `R`: floats and decimals.
    Float,
    /// `T`
    Text,
    /// `P`
    Timestamp,
    /// `?`: anything else (lists, structs, intervals, …).
    Other,
}

impl ColumnType for Col {
    fn from_char(c: char) -> Option<Self> {
        Some(match c {
            'B' => Col::Boolean,
            'D' => Col::DateTime,
            'I' => Col::Integer,
            'R' => Col::Float,
            'T' => Col::Text,
            'P' => Col::Timestamp,
            _ => Col::Other,
        })
    }

    fn to_char(&self) -> char {
        match self {
            Col::Boolean => 'B',
            Col::DateTime => 'D',
            Col::Integer => 'I',
            Col::Float => 'R',
            Col::Text => 'T',
            Col::Timestamp => 'P',
            Col::Other => '?',
        }
    }
}

/// A failed statement as the notebook shows its first line: `ename: message`, so
/// `statement error TableNotFound: .*does not exist` checks both.
#[derive(Debug)]
pub struct CellFailure(pub String);

impl std::fmt::Display for CellFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CellFailure {}

/// One kernel SQL session.
pub struct KernelDb {
    engine: SqlEngine,
    /// `embedded` or `nessie`: the name `onlyif` / `skipif` see.
    catalog: &'static str,
}

impl KernelDb {
    /// Opens a session with the settings `env` resolves to (`LAKEHOUSE_…`, `NESSIE_…`).
    pub async fn open(
        env: &BTreeMap<String, String>,
        catalog: &'static str,
    ) -> Result<Self, CellFailure> {
        let settings = Settings::from_map(env).map_err(|e| CellFailure(e.to_string()))?;
        let engine = SqlEngine::new(settings)
            .await
            .map_err(|e| CellFailure(e.to_string()))?;
        if let Some(report) = engine.take_startup_report() {
            return Err(CellFailure(format!("start-up files failed: {report}")));
        }
        Ok(KernelDb { engine, catalog })
    }

    /// Runs `sql` and fails on an error (for the runner's own set-up).
    pub async fn must(&self, sql: &str) -> Result<(), CellFailure> {
        self.engine
            .query(sql)
            .await
            .map(drop)
            .map_err(|e| CellFailure(format!("{sql}: {}: {}", e.ename(), e.evalue)))
    }
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for KernelDb {
    type Error = CellFailure;
    type ColumnType = Col;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Col>, CellFailure> {
        let result = self
            .engine
            .query(sql)
            .await
            .map_err(|e| CellFailure(format!("{}: {}", e.ename(), e.evalue)))?;
        Ok(match result.rows {
            Some((schema, batches)) => DBOutput::Rows {
                types: column_types(schema.fields()),
                rows: rows(&batches).map_err(CellFailure)?,
            },
            // What a statement said ("Created table default.t (2 columns)") is its result: a
            // `query T` record can check it, and `statement ok` ignores it.
            None if !result.messages.is_empty() => DBOutput::Rows {
                types: vec![Col::Text],
                rows: result.messages.into_iter().map(|m| vec![m]).collect(),
            },
            None => DBOutput::StatementComplete(0),
        })
    }

    fn engine_name(&self) -> &str {
        self.catalog
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }
}

/// The type letters of a result's columns.
pub fn column_types(fields: &Fields) -> Vec<Col> {
    fields.iter().map(|f| letter(f.data_type())).collect()
}

fn letter(t: &DataType) -> Col {
    match t {
        DataType::Boolean => Col::Boolean,
        t if t.is_integer() => Col::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Col::Float,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Col::Text,
        DataType::Date32 | DataType::Date64 | DataType::Time32(_) | DataType::Time64(_) => {
            Col::DateTime
        }
        DataType::Timestamp(..) => Col::Timestamp,
        DataType::Dictionary(key, value) if key.is_integer() => match letter(value) {
            Col::Text => Col::Text,
            _ => Col::Other,
        },
        _ => Col::Other,
    }
}

/// Every row of `batches` as text, one string per cell.
pub fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, String> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let row = b
                .columns()
                .iter()
                .map(|c| cell(c, r))
                .collect::<Result<Vec<_>, _>>()?;
            out.extend(split_lines(row));
        }
    }
    Ok(out)
}

/// A last cell holding several lines (an EXPLAIN plan) becomes one row per line, numbered
/// and with its indentation as dashes, since sqllogictest compares whitespace loosely.
fn split_lines(mut row: Vec<String>) -> Vec<Vec<String>> {
    let Some(last) = row.last() else {
        return vec![row];
    };
    if !last.contains('\n') {
        return vec![row];
    }
    let last = row.pop().unwrap_or_default();
    let mut out = vec![row];
    for (i, line) in last.split('\n').enumerate() {
        let body = line.trim_start();
        let indent = "-".repeat(line.len() - body.len());
        out.push(vec![format!("{:02}){indent}{body}", i + 1)]);
    }
    out
}

/// One cell as text: `NULL`, `(empty)` for an empty string, floats and decimals rounded to 12
/// places with no trailing zeros, everything else as DataFusion displays it.
fn cell(col: &ArrayRef, row: usize) -> Result<String, String> {
    if col.is_null(row) {
        return Ok("NULL".into());
    }
    Ok(match col.data_type() {
        DataType::Null => "NULL".into(),
        DataType::Boolean => col.as_boolean().value(row).to_string(),
        // Half and single floats by their own shortest text, not that of their widening.
        DataType::Float16 => {
            let v = col
                .as_primitive::<datafusion::arrow::datatypes::Float16Type>()
                .value(row);
            special(f64::from(v)).unwrap_or_else(|| round12(&v.to_string()))
        }
        DataType::Float32 => {
            let v = col
                .as_primitive::<datafusion::arrow::datatypes::Float32Type>()
                .value(row);
            special(f64::from(v)).unwrap_or_else(|| round12(&v.to_string()))
        }
        DataType::Float64 => float(
            col.as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                .value(row),
        ),
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => {
            round12(&array_value_to_string(col, row).map_err(|e| e.to_string())?)
        }
        DataType::Utf8 => text(col.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => text(col.as_string::<i64>().value(row)),
        DataType::Utf8View => text(col.as_string_view().value(row)),
        DataType::Dictionary(..) => {
            let dict = col.as_any_dictionary();
            let key = dict.normalized_keys()[row];
            cell(dict.values(), key)?
        }
        _ => {
            let options = datafusion::config::FormatOptions {
                null: "NULL".into(),
                ..Default::default()
            };
            let options: datafusion::arrow::util::display::FormatOptions =
                (&options).try_into().map_err(|e| format!("{e}"))?;
            let f = ArrayFormatter::try_new(col.as_ref(), &options).map_err(|e| e.to_string())?;
            f.value(row).to_string()
        }
    })
}

fn text(s: &str) -> String {
    if s.is_empty() {
        "(empty)".into()
    } else {
        s.trim_end_matches('\n').replace('\0', "\\0")
    }
}

fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v == f64::INFINITY {
        Some("Infinity".into())
    } else if v == f64::NEG_INFINITY {
        Some("-Infinity".into())
    } else {
        None
    }
}

fn float(v: f64) -> String {
    // Rust prints floats in plain decimal notation, never with an exponent.
    special(v).unwrap_or_else(|| round12(&v.to_string()))
}

/// A plain decimal number rounded half to even at 12 decimal places, trailing zeros and a
/// trailing point dropped (`0.30000000000000004` → `0.3`, `-0.0` → `0`).
pub fn round12(s: &str) -> String {
    const PLACES: usize = 12;
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut kept: Vec<u8> = int.bytes().chain(frac.bytes().take(PLACES)).collect();
    let int_len = int.len();
    if frac.len() > PLACES {
        let dropped = &frac.as_bytes()[PLACES..];
        let first = dropped[0];
        let rest_nonzero = dropped[1..].iter().any(|&d| d != b'0');
        let last_odd = kept.last().is_some_and(|d| (d - b'0') % 2 == 1);
        if first > b'5' || (first == b'5' && (rest_nonzero || last_odd)) {
            let mut i = kept.len();
            loop {
                if i == 0 {
                    kept.insert(0, b'1');
                    break;
                }
                i -= 1;
                if kept[i] == b'9' {
                    kept[i] = b'0';
                } else {
                    kept[i] += 1;
                    break;
                }
            }
        }
    }
    let carried = kept.len() - int_len - frac.len().min(PLACES);
    let int_end = int_len + carried;
    let int_part = String::from_utf8_lossy(&kept[..int_end]).into_owned();
    let frac_part = String::from_utf8_lossy(&kept[int_end..])
        .trim_end_matches('0')
        .to_string();
    let int_part = match int_part.trim_start_matches('0') {
        "" => "0".to_string(),
        t => t.to_string(),
    };
    let zero = int_part == "0" && frac_part.is_empty();
    let sign = if negative && !zero { "-" } else { "" };
    if frac_part.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac_part}")
    }
}

/// Compares a result with the expected lines as DataFusion's runner does: cells joined by
/// one space, trailing whitespace ignored; `<slt:ignore>` in the expected lines stands for any
/// text (the expected parts must then appear in order, the first at the start).
pub fn validate(
    normalizer: sqllogictest::Normalizer,
    actual: &[Vec<String>],
    expected: &[String],
) -> bool {
    const IGNORE: &str = "<slt:ignore>";
    let actual: Vec<String> = actual
        .iter()
        .map(|row| row.join(" ").trim_end().to_string())
        .collect();
    if !expected.iter().any(|l| l.contains(IGNORE)) {
        let expected: Vec<String> = expected
            .iter()
            .map(|l| normalizer(l).trim_end().to_string())
            .collect();
        // Whitespace inside a value is compared loosely, as sqllogictest's default does.
        let loose = |s: &String| s.split_whitespace().collect::<Vec<_>>().join(" ");
        return actual.len() == expected.len()
            && actual
                .iter()
                .zip(&expected)
                .all(|(a, e)| loose(a) == loose(e));
    }
    let actual = actual.join("\n");
    let expected = expected.join("\n");
    let mut at = 0;
    for (i, part) in expected.split(IGNORE).enumerate() {
        if part.is_empty() {
            continue;
        }
        match actual[at..].find(part) {
            Some(found) if i > 0 || found == 0 => at += found + part.len(),
            _ => return false,
        }
    }
    true
}
