//! Snapshot tests of every bundle the kernel publishes: what a notebook receives for a result
//! table, a chart, a progress line, a message, an expression value and help text.
//!
//! The `.snap` files under `tests/snapshots/` are the reviewed outputs; a change in any
//! rendered byte fails here and shows as a diff. To accept an intended change, run the tests
//! with `INSTA_UPDATE=always` and review the changed `.snap` files before committing them.
//! HTML is shown one table row per line and the shared stylesheet is elided (it has its own
//! snapshot, `stylesheet`); nothing else is rewritten.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Builder, Int64Array, ListBuilder,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use lakehouse_render::output::{self, CellEnd, ResultTable, TableSettings};
use lakehouse_render::{render_message, Bundle, ChartKind, ChartSpec, Data};

fn batch_of(cols: Vec<(&str, ArrayRef)>) -> (SchemaRef, RecordBatch) {
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect())
        .expect("valid batch");
    (schema, batch)
}

fn settings() -> TableSettings {
    TableSettings {
        max_rows: 50,
        max_col_width: 60,
        reference: None,
    }
}

/// HTML with the stylesheet elided and a line break before each table row and block.
fn readable_html(html: &str) -> String {
    let mut s = match (html.find("<style>"), html.find("</style>")) {
        (Some(a), Some(b)) => format!("{}<style>…{}", &html[..a], &html[b..]),
        _ => html.to_string(),
    };
    for tag in ["<thead>", "<tr>", "</tbody>", "<div class=\"lh-foot\">"] {
        s = s.replace(tag, &format!("\n{tag}"));
    }
    s
}

/// A bundle as text: each MIME type under its own heading, JSON pretty-printed.
fn show(b: &Bundle) -> String {
    let mut out = String::new();
    for (mime, data) in b.entries() {
        out.push_str(&format!("── {mime} ──\n"));
        match data {
            Data::Text(t) if mime == "text/html" => out.push_str(&readable_html(t)),
            Data::Text(t) => out.push_str(t),
            Data::Json(v) => out.push_str(&serde_json::to_string_pretty(v).unwrap()),
        }
        out.push('\n');
    }
    out
}

fn mixed_table() -> (SchemaRef, RecordBatch) {
    let mut tags = ListBuilder::new(Int32Builder::new());
    tags.values().append_value(4);
    tags.values().append_null();
    tags.append(true);
    tags.append(false);
    tags.values().append_value(7);
    tags.append(true);
    batch_of(vec![
        ("id", Arc::new(Int64Array::from(vec![1, -20, 300]))),
        (
            "price",
            Arc::new(Float64Array::from(vec![Some(1.5), None, Some(1234.25)])),
        ),
        (
            "<name>",
            Arc::new(StringArray::from(vec![
                Some("plain"),
                Some("<b>bold</b> & 'q' \"dq\""),
                None,
            ])),
        ),
        (
            "ok",
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        ),
        (
            "day",
            Arc::new(Date32Array::from(vec![Some(20089), None, Some(0)])),
        ),
        ("tags", Arc::new(tags.finish())),
    ])
}

#[test]
fn table_of_mixed_types() {
    let (schema, batch) = mixed_table();
    let t = ResultTable {
        schema: &schema,
        batches: &[batch],
        total_rows: 3,
        elapsed: Duration::from_millis(12),
    };
    insta::assert_snapshot!(
        "table_of_mixed_types",
        show(&output::table(&t, &settings()))
    );
}

#[test]
fn table_cut_to_max_rows_with_a_reference() {
    let (schema, batch) = batch_of(vec![
        ("n", Arc::new(Int64Array::from((0..10).collect::<Vec<_>>()))),
        (
            "at",
            Arc::new(
                TimestampMicrosecondArray::from(
                    (0..10)
                        .map(|i| 1_700_000_000_000_000 + i)
                        .collect::<Vec<_>>(),
                )
                .with_timezone("+00:00"),
            ),
        ),
    ]);
    let t = ResultTable {
        schema: &schema,
        batches: &[batch],
        total_rows: 1_000_000,
        elapsed: Duration::from_millis(2500),
    };
    let s = TableSettings {
        max_rows: 3,
        reference: Some("dev@1a2b3c4d".into()),
        ..settings()
    };
    insta::assert_snapshot!("table_cut_to_max_rows", show(&output::table(&t, &s)));
}

#[test]
fn empty_result_keeps_its_header() {
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Utf8, true),
    ]));
    let t = ResultTable {
        schema: &schema,
        batches: &[],
        total_rows: 0,
        elapsed: Duration::from_millis(3),
    };
    insta::assert_snapshot!("empty_result", show(&output::table(&t, &settings())));
}

#[test]
fn long_and_multiline_values_are_cut() {
    let long = "x".repeat(30);
    let (schema, batch) = batch_of(vec![(
        "s",
        Arc::new(StringArray::from(vec![long.as_str(), "a\tb\nc"])),
    )]);
    let t = ResultTable {
        schema: &schema,
        batches: &[batch],
        total_rows: 2,
        elapsed: Duration::from_millis(1),
    };
    let s = TableSettings {
        max_col_width: 10,
        ..settings()
    };
    insta::assert_snapshot!("long_values", show(&output::table(&t, &s)));
}

fn chart_table() -> (SchemaRef, RecordBatch) {
    batch_of(vec![
        ("kind", Arc::new(StringArray::from(vec!["view", "buy"]))),
        ("n", Arc::new(Int64Array::from(vec![2, 1]))),
    ])
}

#[test]
fn a_chart_is_vega_lite_with_the_text_table() {
    let (schema, batch) = chart_table();
    let t = ResultTable {
        schema: &schema,
        batches: &[batch],
        total_rows: 2,
        elapsed: Duration::from_millis(5),
    };
    let spec = ChartSpec {
        kind: ChartKind::Bar,
        x: Some("kind".into()),
        y: Some("n".into()),
        color: None,
        title: Some("Events <by> kind".into()),
    };
    let (bundle, error) = output::last_result(&t, &settings(), Some(&spec));
    assert_eq!(error, None);
    insta::assert_snapshot!("chart_bar", show(&bundle));
}

#[test]
fn a_chart_that_cannot_be_drawn_shows_the_table_and_says_why() {
    let (schema, batch) = chart_table();
    let t = ResultTable {
        schema: &schema,
        batches: &[batch],
        total_rows: 2,
        elapsed: Duration::from_millis(5),
    };
    let spec = ChartSpec {
        kind: ChartKind::Bar,
        x: Some("kind".into()),
        y: Some("total".into()),
        color: None,
        title: None,
    };
    let (bundle, error) = output::last_result(&t, &settings(), Some(&spec));
    let shown = format!(
        "error: {}\n{}",
        error.expect("a chart error"),
        show(&bundle)
    );
    insta::assert_snapshot!("chart_error", shown);
    // Without a chart, the last result is the table itself.
    let (plain_result, none) = output::last_result(&t, &settings(), None);
    assert_eq!(none, None);
    assert_eq!(plain_result, bundle);
}

#[test]
fn progress_lines() {
    let mut shown = show(&output::progress(
        "Running 1.2 s · 3 of 8 files <scan> & 'more'",
    ));
    shown.push_str("── last text of a line whose statement stopped ──\n");
    for end in [CellEnd::Finished, CellEnd::Interrupted, CellEnd::Failed] {
        shown.push_str(&output::progress_end(
            "Running 1.2 s · 3 of 8 files",
            end,
            Duration::from_millis(4321),
        ));
        shown.push('\n');
    }
    // A last update with no details after the time.
    shown.push_str(&output::progress_end(
        "Running",
        CellEnd::Failed,
        Duration::ZERO,
    ));
    insta::assert_snapshot!("progress", shown);
}

#[test]
fn messages() {
    let line = output::message_line("Inserted 3 rows into demo.events");
    let m = render_message("Created branch <dev> & switched", Some("3 ms · ref main"));
    let shown = format!(
        "── stdout ──\n{line}── text/html ──\n{}\n── text/plain ──\n{}\n",
        readable_html(&m.html),
        m.plain
    );
    insta::assert_snapshot!("messages", shown);
}

#[test]
fn expression_values() {
    let (_, ints) = batch_of(vec![("v", Arc::new(Int64Array::from(vec![2, 3])))]);
    let (_, strings) = batch_of(vec![(
        "v",
        Arc::new(StringArray::from(vec![None, Some("b")])),
    )]);
    let (_, empty) = batch_of(vec![("v", Arc::new(Int64Array::from(Vec::<i64>::new())))]);
    let mut shown = String::new();
    for (name, batches) in [
        ("int", vec![ints]),
        ("null first", vec![strings]),
        ("empty batch, then none", vec![empty]),
        ("no batches", vec![]),
    ] {
        shown.push_str(&format!(
            "# {name}\n{}",
            show(&output::expression_value(&batches))
        ));
    }
    insta::assert_snapshot!("expression_values", shown);
}

#[test]
fn help_bundles() {
    let sql = output::sql_help("count(x)".into(), "**count**(x): rows".into());
    let rust = output::rust_help(
        "fn len(&self)".into(),
        "<code>fn len(&amp;self)</code>".into(),
    );
    insta::assert_snapshot!(
        "help",
        format!("# SQL\n{}# Rust\n{}", show(&sql), show(&rust))
    );
}

#[test]
fn stylesheet() {
    let m = render_message("", None);
    let style = &m.html[m.html.find("<style>").unwrap()..m.html.find("</style>").unwrap() + 8];
    // One rule per line.
    insta::assert_snapshot!("stylesheet", style.replace('}', "}\n"));
}

#[test]
fn a_rust_cells_own_bundle_is_kept_as_text() {
    let b = Bundle::from_text_pairs(vec![
        ("text/plain".into(), "42".into()),
        ("application/json".into(), "{\"a\": 1}".into()),
    ]);
    assert_eq!(b.mime_types(), ["text/plain", "application/json"]);
    assert_eq!(b.get_text("application/json"), Some("{\"a\": 1}"));
}
