//! Tests of the public API: each asserts what a notebook user would see.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Builder,
    Int64Array, ListArray, MapBuilder, RecordBatch, StringArray, StringBuilder, StructArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use unicode_width::UnicodeWidthStr;

use super::*;

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

fn render_one(cols: Vec<(&str, ArrayRef)>) -> Rendered {
    let (schema, batch) = batch_of(cols);
    let n = batch.num_rows();
    render_batches(&schema, &[batch], n, &RenderOptions::default())
}

/// The text of every `<td>` in document order (tags inside stripped, entities kept).
fn tds(html: &str) -> Vec<String> {
    html.split("<td")
        .skip(1)
        .map(|s| {
            let inner = &s[s.find('>').unwrap() + 1..s.find("</td>").unwrap()];
            let mut out = String::new();
            let mut in_tag = false;
            for c in inner.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => out.push(c),
                    _ => {}
                }
            }
            out
        })
        .collect()
}

#[test]
fn values_and_names_are_html_escaped() {
    let out = render_one(vec![(
        "<b>&name",
        Arc::new(StringArray::from(vec![
            "<script>alert('x')</script>",
            "a & b \"q\"",
        ])),
    )]);
    assert!(!out.html.contains("<script>"));
    assert!(!out.html.contains("<b>"));
    assert!(out.html.contains("&lt;b&gt;&amp;name"));
    assert!(out
        .html
        .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(out.html.contains("a &amp; b &quot;q&quot;"));
    // Plain text is not HTML: values appear as they are.
    assert!(out.plain.contains("<script>alert('x')</script>"));
}

#[test]
fn null_differs_from_the_string_null() {
    let out = render_one(vec![(
        "s",
        Arc::new(StringArray::from(vec![Some("NULL"), None])),
    )]);
    let cells = tds(&out.html);
    assert_eq!(cells, vec!["NULL", "null"]);
    assert!(out.html.contains("<td>NULL</td>"));
    assert!(out
        .html
        .contains("<td><span class=\"lh-null\">null</span></td>"));
    assert!(out.html.contains(".lh-result .lh-null{font-style:italic"));
}

#[test]
fn header_shows_names_and_sql_types() {
    let ts = TimestampMicrosecondArray::from(vec![0]).with_timezone("+00:00");
    let out = render_one(vec![
        ("id", Arc::new(Int64Array::from(vec![1]))),
        ("name", Arc::new(StringArray::from(vec!["a"]))),
        ("x", Arc::new(Float64Array::from(vec![1.5]))),
        (
            "amount",
            Arc::new(
                Decimal128Array::from(vec![1])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ),
        ("ok", Arc::new(BooleanArray::from(vec![true]))),
        ("day", Arc::new(Date32Array::from(vec![0]))),
        ("at", Arc::new(ts)),
    ]);
    for (name, ty) in [
        ("id", "bigint"),
        ("name", "string"),
        ("x", "double"),
        ("amount", "decimal(10,2)"),
        ("ok", "boolean"),
        ("day", "date"),
        ("at", "timestamptz(+00:00)"),
    ] {
        let th =
            format!("<div class=\"lh-name\">{name}</div><div class=\"lh-type\">{ty}</div></th>");
        assert!(out.html.contains(&th), "missing header {th}");
    }
    // Numbers (and their headers) are right-aligned, other types left.
    assert!(out
        .html
        .contains("<th class=\"lh-num\"><div class=\"lh-name\">id</div>"));
    assert!(out.html.contains("<th><div class=\"lh-name\">name</div>"));
    assert!(out.html.contains("<td class=\"lh-num\">1</td><td>a</td>"));
}

#[test]
fn only_max_rows_rows_are_rendered_with_a_notice() {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    let batches: Vec<RecordBatch> = (0..3)
        .map(|b| {
            let values = Int64Array::from_iter_values((0..40).map(|i| b * 40 + i));
            RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap()
        })
        .collect();
    let out = render_batches(&schema, &batches, 1_000_000, &RenderOptions::default());
    assert_eq!(out.shown_rows, 50);
    assert_eq!(out.total_rows, 1_000_000);
    assert!(out.is_truncated());
    // Exactly 50 body rows: 0..=49 and nothing after.
    assert_eq!(tds(&out.html).len(), 50);
    assert_eq!(tds(&out.html).last().unwrap(), "49");
    assert!(out.html.contains("showing 50 of 1000000 rows"));
    let lines: Vec<&str> = out.plain.lines().collect();
    assert_eq!(*lines.last().unwrap(), "showing 50 of 1000000 rows");
    // 3 borders + header + 50 rows + notice.
    assert_eq!(lines.len(), 55);
    assert_eq!(lines[lines.len() - 3], "| 49 |");
}

#[test]
fn rows_past_the_limit_are_never_read() {
    // Row 3 holds a timestamp chrono cannot represent: formatting it would print an error.
    let ts = TimestampMicrosecondArray::from(vec![0, 0, 0, i64::MAX]);
    let (schema, batch) = batch_of(vec![("t", Arc::new(ts))]);
    let opts = RenderOptions {
        max_rows: 3,
        ..RenderOptions::default()
    };
    let out = render_batches(&schema, std::slice::from_ref(&batch), 4, &opts);
    assert!(!out.html.contains("ERROR"), "{}", out.html);
    assert!(out.plain.ends_with("showing 3 of 4 rows"));
    // Sanity: the value does fail when it is in range of the limit.
    let all = render_batches(&schema, &[batch], 4, &RenderOptions::default());
    assert!(all.plain.contains("ERROR"), "{}", all.plain);
}

#[test]
fn empty_result_shows_header_and_zero_rows() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    let out = render_batches(&schema, &[], 0, &RenderOptions::default());
    assert_eq!(out.shown_rows, 0);
    assert!(out.html.contains("<div class=\"lh-name\">id</div>"));
    assert!(out.html.contains("<tbody></tbody>"));
    assert!(out.html.contains("<div class=\"lh-foot\">(0 rows)</div>"));
    assert_eq!(
        out.plain,
        "+----+------+\n| id | name |\n+----+------+\n(0 rows)"
    );
    // Empty batches count the same.
    let empty = RecordBatch::new_empty(schema.clone());
    assert_eq!(
        render_batches(&schema, &[empty], 0, &RenderOptions::default()),
        out
    );
}

#[test]
fn no_columns_at_all() {
    let schema = Arc::new(Schema::empty());
    let out = render_batches(&schema, &[], 0, &RenderOptions::default());
    assert_eq!(out.plain, "(0 rows)");
    assert!(!out.html.contains("<table"));
}

#[test]
fn long_values_are_cut_with_the_full_value_in_title() {
    let long = format!("<{}>", "é".repeat(100));
    let out = render_one(vec![(
        "s",
        Arc::new(StringArray::from(vec![long.as_str()])),
    )]);
    let shown = format!("&lt;{}…", "é".repeat(58));
    assert!(
        out.html.contains(&format!(
            "<td title=\"&lt;{}&gt;\">{shown}</td>",
            "é".repeat(100)
        )),
        "{}",
        out.html
    );
    let row = out.plain.lines().nth(3).unwrap();
    assert_eq!(row, format!("| <{}… |", "é".repeat(58)));
    assert_eq!(row.chars().count(), 64);
    // A value exactly max_col_width chars long is not cut.
    let exact = "x".repeat(60);
    let out = render_one(vec![(
        "s",
        Arc::new(StringArray::from(vec![exact.as_str()])),
    )]);
    assert!(out.html.contains(&format!("<td>{exact}</td>")));
    assert!(!out.html.contains("title="));
}

#[test]
fn huge_values_keep_a_capped_title() {
    let huge = "y".repeat(1_000_000);
    let out = render_one(vec![(
        "s",
        Arc::new(StringArray::from(vec![huge.as_str()])),
    )]);
    assert!(out.html.len() < 20_000, "{}", out.html.len());
    assert!(out
        .html
        .contains(&format!("title=\"{}…\"", "y".repeat(MAX_TITLE_CHARS))));
}

#[test]
fn unicode_columns_align_in_plain_text() {
    let out = render_one(vec![
        (
            "名前",
            Arc::new(StringArray::from(vec!["日本語", "abc", "café"])),
        ),
        ("n", Arc::new(Int64Array::from(vec![1, 22, 333]))),
    ]);
    let expected = "\
+--------+-----+
| 名前   |   n |
+--------+-----+
| 日本語 |   1 |
| abc    |  22 |
| café   | 333 |
+--------+-----+
3 rows";
    assert_eq!(out.plain, expected);
    let widths: Vec<usize> = out.plain.lines().take(7).map(|l| l.width()).collect();
    assert!(widths.iter().all(|w| *w == widths[0]), "{widths:?}");
}

#[test]
fn control_characters_do_not_break_plain_rows() {
    let out = render_one(vec![("s", Arc::new(StringArray::from(vec!["a\nb\tc"])))]);
    assert_eq!(out.plain.lines().nth(3).unwrap(), "| a\\nb\\tc |");
}

#[test]
fn decimals_keep_their_scale() {
    let dec = Decimal128Array::from(vec![Some(12345), Some(100), Some(-5), None])
        .with_precision_and_scale(10, 2)
        .unwrap();
    let out = render_one(vec![("d", Arc::new(dec))]);
    assert_eq!(tds(&out.html), vec!["123.45", "1.00", "-0.05", "null"]);
    assert!(out
        .plain
        .contains("| 123.45 |\n|   1.00 |\n|  -0.05 |\n|   NULL |"));
}

#[test]
fn dates_and_timestamps_read_naturally() {
    // 2025-01-16 10:00:00 UTC in microseconds.
    let t = 1_737_021_600_000_000_i64;
    let ts = TimestampMicrosecondArray::from(vec![t, t + 250_000]);
    let tz = TimestampMicrosecondArray::from(vec![t, t]).with_timezone("+00:00");
    let named = TimestampMicrosecondArray::from(vec![t, t]).with_timezone("Europe/Paris");
    let day = Date32Array::from(vec![20_104, 0]);
    let out = render_one(vec![
        ("ts", Arc::new(ts)),
        ("tz", Arc::new(tz)),
        ("paris", Arc::new(named)),
        ("day", Arc::new(day)),
    ]);
    assert_eq!(
        tds(&out.html),
        vec![
            "2025-01-16 10:00:00",
            "2025-01-16 10:00:00+00:00",
            "2025-01-16 11:00:00+01:00",
            "2025-01-16",
            "2025-01-16 10:00:00.250",
            "2025-01-16 10:00:00+00:00",
            "2025-01-16 11:00:00+01:00",
            "1970-01-01",
        ]
    );
    assert!(!out.plain.contains('T'));
}

#[test]
fn floats_use_plain_notation() {
    let out = render_one(vec![(
        "x",
        Arc::new(Float64Array::from(vec![1234567.5, 0.1, -2.0, 1e-3])),
    )]);
    assert_eq!(tds(&out.html), vec!["1234567.5", "0.1", "-2.0", "0.001"]);
}

#[test]
fn nested_values_are_readable() {
    let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
        Some(vec![Some(1), Some(2), Some(3)]),
        Some(vec![Some(4), None]),
        None,
    ]);
    let st = StructArray::from(vec![
        (
            Arc::new(Field::new("a", DataType::Int64, true)),
            Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef,
        ),
        (
            Arc::new(Field::new("b", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec!["x", "y", "<z>"])) as ArrayRef,
        ),
    ]);
    let mut mb = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
    mb.keys().append_value("k");
    mb.values().append_value(7);
    mb.append(true).unwrap();
    mb.append(true).unwrap();
    mb.append(false).unwrap();
    let map = mb.finish();
    let bin = BinaryArray::from_vec(vec![&[0xde, 0xad, 0xbe, 0xef], &[0u8; 40], &[]]);
    let out = render_one(vec![
        ("l", Arc::new(list)),
        ("s", Arc::new(st)),
        ("m", Arc::new(map)),
        ("b", Arc::new(bin)),
    ]);
    assert!(out
        .html
        .contains("<div class=\"lh-type\">array&lt;bigint&gt;</div>"));
    assert!(out
        .html
        .contains("<div class=\"lh-type\">struct&lt;a: bigint, b: string&gt;</div>"));
    assert!(out
        .html
        .contains("<div class=\"lh-type\">map&lt;string, int&gt;</div>"));
    assert_eq!(
        tds(&out.html),
        vec![
            "[1, 2, 3]",
            "{a: 1, b: x}",
            "{k: 7}",
            "deadbeef",
            "[4, null]",
            "{a: null, b: y}",
            "{}",
            &format!("{}…", "0".repeat(59)),
            "null",
            "{a: 3, b: &lt;z&gt;}",
            "null",
            "",
        ]
    );
    // Plain text spells nested nulls NULL too.
    assert!(
        out.plain.contains("| [4, NULL] | {a: NULL, b: y} |"),
        "{}",
        out.plain
    );
}

#[test]
fn footer_and_row_count_sit_under_the_table() {
    let (schema, batch) = batch_of(vec![("n", Arc::new(Int64Array::from(vec![1])))]);
    let opts = RenderOptions {
        footer: Some("12 ms · ref <main>".into()),
        ..RenderOptions::default()
    };
    let out = render_batches(&schema, &[batch], 1, &opts);
    assert!(out.html.ends_with(
        "</table></div><div class=\"lh-foot\">1 row · 12 ms · ref &lt;main&gt;</div></div>"
    ));
    assert!(out.plain.ends_with("+---+\n12 ms · ref <main>\n1 row"));
}

#[test]
fn html_is_scoped_and_scrolls() {
    let out = render_one(vec![("n", Arc::new(Int64Array::from(vec![1])))]);
    assert!(out.html.starts_with("<div class=\"lh-result\"><style>"));
    assert!(out.html.contains("style=\"overflow-x:auto;"));
    let style = &out.html[out.html.find("<style>").unwrap()..out.html.find("</style>").unwrap()];
    // Every rule is under the .lh-result scope.
    for rule in style.trim_start_matches("<style>").split('}') {
        let selectors = rule.split('{').next().unwrap();
        if selectors.is_empty() {
            continue;
        }
        for sel in selectors.split(',') {
            assert!(sel.starts_with(".lh-result"), "unscoped selector {sel}");
        }
    }
}

#[test]
fn total_rows_is_never_below_shown_rows() {
    let (schema, batch) = batch_of(vec![("n", Arc::new(Int64Array::from(vec![1, 2])))]);
    let out = render_batches(&schema, &[batch], 0, &RenderOptions::default());
    assert_eq!((out.shown_rows, out.total_rows), (2, 2));
    assert!(out.plain.ends_with("2 rows"));
}

#[test]
fn messages_are_escaped() {
    let out = render_message("Created branch <dev> & switched", Some("3 ms"));
    assert!(out
        .html
        .contains("<pre class=\"lh-msg\">Created branch &lt;dev&gt; &amp; switched</pre>"));
    assert!(out.html.contains("<div class=\"lh-foot\">3 ms</div>"));
    assert_eq!(out.plain, "Created branch <dev> & switched\n3 ms");
    assert_eq!(out.mime_bundle()[0].0, "text/html");
}

#[test]
fn elapsed_is_human() {
    use crate::output::format_elapsed;
    use std::time::Duration;
    assert_eq!(format_elapsed(Duration::from_millis(12)), "12 ms");
    assert_eq!(format_elapsed(Duration::from_millis(2500)), "2.50 s");
}
