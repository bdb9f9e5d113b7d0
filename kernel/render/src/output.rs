//! Every output decision for a cell: an engine's result table, chart, progress line, message,
//! expression value or help text becomes a [`Bundle`] (or a line of text) here.
//!
//! Why one place: which MIME types a front end gets, how HTML is escaped and what the footer
//! says are decided once and tested without a kernel; the server only converts bundles into
//! messages and publishes them.

use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::bundle::Bundle;
use crate::{render_batches, render_chart, ChartSpec, RenderOptions, Rendered};
use crate::{MIME_HTML, MIME_PLAIN, MIME_VEGALITE};

/// MIME type of Markdown (SQL help text).
pub const MIME_MARKDOWN: &str = "text/markdown";

/// A result table as an engine hands it over: the first rows and how many there were.
#[derive(Debug, Clone, Copy)]
pub struct ResultTable<'a> {
    /// Column names and types.
    pub schema: &'a SchemaRef,
    /// The first rows (at most the display limit), possibly in several batches.
    pub batches: &'a [RecordBatch],
    /// Rows in the whole result.
    pub total_rows: usize,
    /// How long the statement took (shown in the footer).
    pub elapsed: Duration,
}

/// How the session shows tables when one is rendered (a cell may change these midway, with
/// `SET lakehouse.max_rows`), and the catalog reference reads see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSettings {
    /// Rows shown at most.
    pub max_rows: usize,
    /// Characters shown per value at most.
    pub max_col_width: usize,
    /// The reference (`main`, `dev@1a2b…`) named in the footer, on a versioned catalog.
    pub reference: Option<String>,
}

/// A result table as `text/html` and `text/plain`, with the footer `12 ms · ref main`.
pub fn table(t: &ResultTable, s: &TableSettings) -> Bundle {
    rendered_bundle(&rendered(t, s))
}

/// The cell's last result table: a chart when the cell asked for one (Vega-Lite and the text
/// table, without HTML), else the table. When the chart cannot be drawn, the table is shown
/// and the second value says why (the cell then fails with that reason).
pub fn last_result(
    t: &ResultTable,
    s: &TableSettings,
    chart: Option<&ChartSpec>,
) -> (Bundle, Option<String>) {
    let r = rendered(t, s);
    let Some(spec) = chart else {
        return (rendered_bundle(&r), None);
    };
    match render_chart(t.schema, t.batches, t.total_rows, spec)
        .map(|json| serde_json::from_str::<serde_json::Value>(&json))
    {
        // Vega-Lite plus the text table as the fallback for nbconvert and other front ends.
        // No text/html: JupyterLab ranks HTML above Vega-Lite and would show the table
        // instead of the chart.
        Ok(Ok(spec)) => (
            Bundle::new()
                .json(MIME_VEGALITE, spec)
                .text(MIME_PLAIN, r.plain),
            None,
        ),
        Ok(Err(e)) => (
            rendered_bundle(&r),
            Some(format!("the chart could not be built ({e})")),
        ),
        Err(e) => (rendered_bundle(&r), Some(e)),
    }
}

fn rendered(t: &ResultTable, s: &TableSettings) -> Rendered {
    let opts = RenderOptions {
        max_rows: s.max_rows,
        max_col_width: s.max_col_width,
        // The renderer adds the row count itself.
        footer: Some(match &s.reference {
            Some(r) => format!("{} · ref {r}", format_elapsed(t.elapsed)),
            None => format_elapsed(t.elapsed),
        }),
    };
    render_batches(t.schema, t.batches, t.total_rows, &opts)
}

fn rendered_bundle(r: &Rendered) -> Bundle {
    r.mime_bundle()
        .into_iter()
        .fold(Bundle::new(), |b, (mime, text)| b.text(mime, text))
}

/// `12 ms` under a second, `2.50 s` from there.
pub fn format_elapsed(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// A running statement's status line (shown, then updated in place): a muted HTML line
/// and the text itself.
pub fn progress(text: &str) -> Bundle {
    let mut html = String::from(
        "<div class=\"lh-progress\" style=\"font-family:var(--jp-code-font-family,monospace);\
         font-size:12px;color:var(--jp-ui-font-color2,#666)\">",
    );
    crate::html::escape_text_into(&mut html, text);
    html.push_str("</div>");
    Bundle::new().text(MIME_HTML, html).text(MIME_PLAIN, text)
}

/// How a cell whose statement still showed a status line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellEnd {
    /// The cell ran to its end.
    Finished,
    /// An interrupt stopped it.
    Interrupted,
    /// An error (or a failure of the engine) stopped it.
    Failed,
}

/// The last text of a status line whose statement never sent its last update (stopped by an
/// interrupt or an error): how it ended, when, and what the last update said after ` · `.
pub fn progress_end(last: &str, end: CellEnd, elapsed: Duration) -> String {
    let how = match end {
        CellEnd::Finished => "Finished",
        CellEnd::Interrupted => "Interrupted",
        CellEnd::Failed => "Stopped by an error",
    };
    let rest = last.split_once(" · ").map_or("", |(_, r)| r);
    format!("{how} after {:.1} s · {rest}", elapsed.as_secs_f64())
}

/// A statement's message ("Inserted 3 rows into demo.events") as the line printed on stdout.
pub fn message_line(text: &str) -> String {
    format!("{text}\n")
}

/// A user expression's value (`SELECT <expr>`): the first value of the first column as
/// `text/plain`, empty when the result has no rows.
pub fn expression_value(batches: &[RecordBatch]) -> Bundle {
    let text = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| {
            let opts = FormatOptions::default();
            ArrayFormatter::try_new(b.column(0).as_ref(), &opts)
                .ok()
                .map(|f| f.value(0).to_string())
        })
        .unwrap_or_default();
    Bundle::new().text(MIME_PLAIN, text)
}

/// Help on what is under the cursor in a SQL cell (inspect_request): text and Markdown.
pub fn sql_help(plain: String, markdown: String) -> Bundle {
    Bundle::new()
        .text(MIME_PLAIN, plain)
        .text(MIME_MARKDOWN, markdown)
}

/// Help on what is under the cursor in a Rust cell (rust-analyzer's): text and HTML.
pub fn rust_help(plain: String, html: String) -> Bundle {
    Bundle::new().text(MIME_PLAIN, plain).text(MIME_HTML, html)
}
