//! The bounded table model shared by the HTML and plain-text renderers: at most `limit` rows,
//! every cell formatted by arrow's `ArrayFormatter` into a capped buffer.

use std::fmt::{self, Write};

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::SchemaRef;
use arrow::util::display::{ArrayFormatter, DurationFormat, FormatOptions};

use crate::types::{is_numeric, sql_type_name};

/// Timestamps without a zone: `2025-01-16 10:00:00` (fraction only when non-zero).
const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";
/// Timestamps with a zone: `2025-01-16 10:00:00+00:00`.
const TIMESTAMP_TZ_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f%:z";
const DATE_FORMAT: &str = "%Y-%m-%d";
const TIME_FORMAT: &str = "%H:%M:%S%.f";

/// One column header.
pub(crate) struct Column {
    pub name: String,
    pub type_name: String,
    pub numeric: bool,
}

/// One formatted cell.
pub(crate) enum Cell {
    /// A top-level SQL NULL.
    Null,
    /// A value: `shown` is at most `max_col_width` chars; `full` is set when `shown` was cut.
    Value { shown: String, full: Option<String> },
}

/// How cells are captured.
pub(crate) struct GridSpec<'a> {
    /// Rows to keep.
    pub limit: usize,
    /// Chars shown per cell; longer values end in `…`.
    pub max_col_width: usize,
    /// Chars kept of a cut value (for an HTML `title`); 0 keeps none.
    pub full_cap: usize,
    /// How a NULL nested inside a list, struct or map is spelled.
    pub nested_null: &'a str,
    /// Replace control characters (newline, tab…) by visible escapes (`\n`), for plain text.
    pub escape_controls: bool,
}

pub(crate) struct Grid {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// Builds the grid from the first `spec.limit` rows of `batches`. Touches no other row.
pub(crate) fn build(schema: &SchemaRef, batches: &[RecordBatch], spec: &GridSpec<'_>) -> Grid {
    let columns: Vec<Column> = schema
        .fields()
        .iter()
        .map(|f| Column {
            name: f.name().clone(),
            type_name: sql_type_name(f.data_type()),
            numeric: is_numeric(f.data_type()),
        })
        .collect();
    let options = FormatOptions::new()
        .with_null(spec.nested_null)
        .with_display_error(true)
        .with_date_format(Some(DATE_FORMAT))
        .with_datetime_format(Some(DATE_FORMAT))
        .with_timestamp_format(Some(TIMESTAMP_FORMAT))
        .with_timestamp_tz_format(Some(TIMESTAMP_TZ_FORMAT))
        .with_time_format(Some(TIME_FORMAT))
        .with_duration_format(DurationFormat::Pretty);
    let width = spec.max_col_width.max(1);
    let cap = width.max(spec.full_cap);

    let mut rows: Vec<Vec<Cell>> = Vec::with_capacity(spec.limit.min(1024));
    for batch in batches {
        let take = batch.num_rows().min(spec.limit - rows.len());
        if take == 0 {
            if rows.len() == spec.limit {
                break;
            }
            continue;
        }
        let first = rows.len();
        rows.extend((0..take).map(|_| Vec::with_capacity(columns.len())));
        for c in 0..columns.len() {
            let Some(array) = batch.columns().get(c) else {
                rows[first..].iter_mut().for_each(|r| r.push(Cell::Null));
                continue;
            };
            // Slicing is O(1) and bounds every per-array computation below to `take` rows.
            let array = array.slice(0, take);
            let nulls = array.logical_nulls();
            let formatter = ArrayFormatter::try_new(array.as_ref(), &options);
            for (i, row) in rows[first..].iter_mut().enumerate() {
                if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                    row.push(Cell::Null);
                    continue;
                }
                let mut out = Capped::new(cap, spec.escape_controls);
                match &formatter {
                    Ok(f) => {
                        if let Err(e) = f.value(i).write(&mut out) {
                            if !out.overflow {
                                out = Capped::new(cap, spec.escape_controls);
                                let _ = write!(out, "ERROR: {e}");
                            }
                        }
                    }
                    Err(e) => {
                        let _ = write!(out, "<{e}>");
                    }
                }
                row.push(out.into_cell(width, spec.full_cap));
            }
        }
    }
    Grid { columns, rows }
}

/// A `fmt::Write` sink keeping at most `cap` chars, failing (to stop the formatter) beyond.
struct Capped {
    buf: String,
    chars: usize,
    cap: usize,
    overflow: bool,
    escape_controls: bool,
}

impl Capped {
    fn new(cap: usize, escape_controls: bool) -> Self {
        Capped {
            buf: String::new(),
            chars: 0,
            cap,
            overflow: false,
            escape_controls,
        }
    }

    fn push(&mut self, ch: char) -> fmt::Result {
        if self.chars == self.cap {
            self.overflow = true;
            return Err(fmt::Error);
        }
        self.buf.push(ch);
        self.chars += 1;
        Ok(())
    }

    fn into_cell(self, width: usize, full_cap: usize) -> Cell {
        if !self.overflow && self.chars <= width {
            return Cell::Value {
                shown: self.buf,
                full: None,
            };
        }
        let mut shown: String = self.buf.chars().take(width - 1).collect();
        shown.push('…');
        let full = (full_cap > 0).then(|| {
            let mut full: String = self.buf.chars().take(full_cap).collect();
            if self.overflow || self.chars > full_cap {
                full.push('…');
            }
            full
        });
        Cell::Value { shown, full }
    }
}

impl Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for ch in s.chars() {
            if self.escape_controls && ch.is_control() {
                match ch {
                    '\n' => self.write_str("\\n")?,
                    '\r' => self.write_str("\\r")?,
                    '\t' => self.write_str("\\t")?,
                    other => {
                        for e in other.escape_unicode() {
                            self.push(e)?;
                        }
                    }
                }
            } else {
                self.push(ch)?;
            }
        }
        Ok(())
    }
}
