//! Every output decision of the kernel, pure: result tables, charts, progress lines, messages
//! and help text become MIME bundles here ([`output`]), and Arrow results become the two MIME
//! types a Jupyter front end shows, `text/html` (a scrollable, escaped, typed table) and
//! `text/plain` (a bordered, aligned table).
//!
//! Nothing here does I/O or knows the Jupyter protocol: batches in, strings and [`Bundle`]s
//! out; the server converts bundles into messages and only publishes them. The renderer
//! only ever looks at the first [`RenderOptions::max_rows`] rows, so rendering the head of a
//! huge result costs the same as rendering a small one; the caller says how many rows there
//! were in total.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Int64Array, RecordBatch, StringArray};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use lakehouse_render::{render_batches, RenderOptions};
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("id", DataType::Int64, false),
//!     Field::new("name", DataType::Utf8, true),
//! ]));
//! let batch = RecordBatch::try_new(
//!     schema.clone(),
//!     vec![
//!         Arc::new(Int64Array::from(vec![1, 2])),
//!         Arc::new(StringArray::from(vec![Some("a"), None])),
//!     ],
//! )
//! .unwrap();
//! let out = render_batches(&schema, &[batch], 2, &RenderOptions::default());
//! assert_eq!(
//!     out.plain,
//!     "+----+------+\n\
//!      | id | name |\n\
//!      +----+------+\n\
//!      |  1 | a    |\n\
//!      |  2 | NULL |\n\
//!      +----+------+\n\
//!      2 rows"
//! );
//! assert!(out.html.contains("<span class=\"lh-null\">null</span>"));
//! ```

mod bundle;
mod chart;
mod grid;
mod html;
pub mod output;
mod plain;
mod types;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

pub use bundle::{Bundle, Data};
pub use chart::{render_chart, ChartKind, ChartSpec, MAX_CHART_ROWS, MIME_VEGALITE};
pub use types::sql_type_name;

/// Default for [`RenderOptions::max_rows`].
pub const DEFAULT_MAX_ROWS: usize = 50;
/// Default for [`RenderOptions::max_col_width`].
pub const DEFAULT_MAX_COL_WIDTH: usize = 60;
/// At most this many chars of a truncated value go into its HTML `title` tooltip, so one
/// multi-megabyte cell cannot bloat the notebook; longer values end in `…` there too.
pub const MAX_TITLE_CHARS: usize = 4096;

/// MIME type of [`Rendered::html`].
pub const MIME_HTML: &str = "text/html";
/// MIME type of [`Rendered::plain`].
pub const MIME_PLAIN: &str = "text/plain";

/// How a result is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Rows shown at most (default 50). Rows past this are never read.
    pub max_rows: usize,
    /// Chars shown per cell at most (default 60); longer values are cut and end in `…`
    /// (in HTML the value, up to [`MAX_TITLE_CHARS`], is kept in the cell's `title`).
    pub max_col_width: usize,
    /// A muted line under the table, e.g. `"12 ms · ref main"`.
    pub footer: Option<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            max_rows: DEFAULT_MAX_ROWS,
            max_col_width: DEFAULT_MAX_COL_WIDTH,
            footer: None,
        }
    }
}

/// A rendered result: the two MIME representations and the row counts they describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `text/html`: a self-contained fragment (scoped `<style>`, all text escaped).
    pub html: String,
    /// `text/plain`: a bordered table ending with the row notice; no trailing newline.
    pub plain: String,
    /// Rows in the whole result, as given by the caller (never less than `shown_rows`).
    pub total_rows: usize,
    /// Rows actually rendered: `min(max_rows, rows present in the batches)`.
    pub shown_rows: usize,
}

impl Rendered {
    /// Whether rows were left out (`shown_rows < total_rows`).
    pub fn is_truncated(&self) -> bool {
        self.shown_rows < self.total_rows
    }

    /// The bundle as `(mime type, content)` pairs, HTML first, ready for a `display_data` or
    /// `execute_result` `data` map.
    pub fn mime_bundle(&self) -> [(&'static str, &str); 2] {
        [(MIME_HTML, &self.html), (MIME_PLAIN, &self.plain)]
    }
}

/// Renders the first `opts.max_rows` rows of `batches` as HTML and plain text.
///
/// `schema` gives the column names and types shown in the header (a result with no batches
/// still shows its header). `total_rows` is the number of rows in the whole result, which may
/// be more than the batches hold when the caller kept only the head; when more rows exist than
/// are shown, both outputs say `showing N of M rows`, and an empty result says `(0 rows)`.
/// Only the first `max_rows` rows are read, so the cost does not grow with the result.
pub fn render_batches(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    total_rows: usize,
    opts: &RenderOptions,
) -> Rendered {
    let html_grid = grid::build(
        schema,
        batches,
        &grid::GridSpec {
            limit: opts.max_rows,
            max_col_width: opts.max_col_width,
            full_cap: MAX_TITLE_CHARS,
            nested_null: "null",
            escape_controls: false,
        },
    );
    let plain_grid = grid::build(
        schema,
        batches,
        &grid::GridSpec {
            limit: opts.max_rows,
            max_col_width: opts.max_col_width,
            full_cap: 0,
            nested_null: "NULL",
            escape_controls: true,
        },
    );
    let shown_rows = html_grid.rows.len();
    let total_rows = total_rows.max(shown_rows);
    let notice = row_notice(shown_rows, total_rows);
    let footer = opts.footer.as_deref();
    Rendered {
        html: html::render(&html_grid, &notice, footer),
        plain: plain::render(&plain_grid, &notice, footer),
        total_rows,
        shown_rows,
    }
}

/// Renders a status message (e.g. `"Created branch dev"`) that has no table, with an
/// optional muted footer such as `"3 ms · ref main"`. Row counts are zero.
pub fn render_message(text: &str, footer: Option<&str>) -> Rendered {
    let mut out = String::from("<div class=\"lh-result\">");
    out.push_str(html::STYLE);
    out.push_str("<pre class=\"lh-msg\">");
    html::escape_into(&mut out, text);
    out.push_str("</pre>");
    html::foot_into(&mut out, "", footer);
    out.push_str("</div>");
    let mut plain = text.to_string();
    if let Some(footer) = footer.filter(|f| !f.is_empty()) {
        plain.push('\n');
        plain.push_str(footer);
    }
    Rendered {
        html: out,
        plain,
        total_rows: 0,
        shown_rows: 0,
    }
}

/// `(0 rows)`, `1 row`, `12 rows`, or `showing 50 of 1000000 rows`.
fn row_notice(shown: usize, total: usize) -> String {
    match (shown, total) {
        (0, 0) => "(0 rows)".to_string(),
        (s, t) if s < t => format!("showing {s} of {t} rows"),
        (1, _) => "1 row".to_string(),
        (s, _) => format!("{s} rows"),
    }
}

#[cfg(test)]
mod tests;
