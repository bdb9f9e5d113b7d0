//! Vega-Lite v5 charts of a query result (`application/vnd.vegalite.v5+json`, which
//! JupyterLab renders natively).
//!
//! The spec embeds the data as inline values, so the notebook is self-contained. Columns are
//! encoded by their Arrow type: numbers are quantitative, dates and timestamps temporal,
//! everything else nominal.

use std::fmt;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// MIME type of a Vega-Lite v5 spec.
pub const MIME_VEGALITE: &str = "application/vnd.vegalite.v5+json";

/// Rows put into a chart at most; the caller collects this many (see [`ChartSpec`]).
pub const MAX_CHART_ROWS: usize = 10_000;

/// The chart kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Bars: x categories (or times), y values.
    Bar,
    /// A line through the points, in x order.
    Line,
    /// Points.
    Scatter,
    /// A filled line.
    Area,
    /// Counts of x's values in bins (y is not used).
    Histogram,
}

impl ChartKind {
    /// Every kind's name, for messages.
    pub const NAMES: &'static str = "bar, line, scatter, area, histogram";

    /// Parses a kind name.
    pub fn parse(s: &str) -> Option<ChartKind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "bar" => ChartKind::Bar,
            "line" => ChartKind::Line,
            "scatter" | "point" => ChartKind::Scatter,
            "area" => ChartKind::Area,
            "histogram" | "hist" => ChartKind::Histogram,
            _ => return None,
        })
    }

    fn mark(self) -> &'static str {
        match self {
            ChartKind::Bar | ChartKind::Histogram => "bar",
            ChartKind::Line => "line",
            ChartKind::Scatter => "point",
            ChartKind::Area => "area",
        }
    }
}

impl fmt::Display for ChartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChartKind::Bar => "bar",
            ChartKind::Line => "line",
            ChartKind::Scatter => "scatter",
            ChartKind::Area => "area",
            ChartKind::Histogram => "histogram",
        })
    }
}

/// What to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSpec {
    /// The kind of chart.
    pub kind: ChartKind,
    /// The x column (default: the first column).
    pub x: Option<String>,
    /// The y column (default: the first numeric column after x; unused for histograms).
    pub y: Option<String>,
    /// A column whose values colour the marks (series).
    pub color: Option<String>,
    /// A title over the chart.
    pub title: Option<String>,
}

/// A Vega-Lite spec for the rows in `batches` (at most [`MAX_CHART_ROWS`]), or an error that
/// names the columns there are.
pub fn render_chart(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    total_rows: usize,
    spec: &ChartSpec,
) -> Result<String, String> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let column = |wanted: &str, role: &str| -> Result<usize, String> {
        names
            .iter()
            .position(|n| *n == wanted)
            .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(wanted)))
            .ok_or_else(|| {
                format!(
                    "--{role} {wanted}: the result has no column '{wanted}'; its columns are: {}",
                    names.join(", ")
                )
            })
    };
    if names.is_empty() {
        return Err("the result has no columns to chart".into());
    }
    let x = match &spec.x {
        Some(x) => column(x, "x")?,
        None => 0,
    };
    let y = if spec.kind == ChartKind::Histogram {
        None
    } else {
        Some(match &spec.y {
            Some(y) => column(y, "y")?,
            None => (0..names.len())
                .find(|&i| i != x && is_numeric(schema.field(i).data_type()))
                .ok_or_else(|| {
                    format!(
                        "a {} chart needs a numeric y column; none found besides x. Name one with --y (columns: {})",
                        spec.kind,
                        names.join(", ")
                    )
                })?,
        })
    };
    if spec.kind == ChartKind::Histogram && !is_numeric(schema.field(x).data_type()) {
        return Err(format!(
            "a histogram bins a numeric column; '{}' is {}. Pick one with --x",
            names[x],
            schema.field(x).data_type()
        ));
    }
    let color = spec
        .color
        .as_deref()
        .map(|c| column(c, "color"))
        .transpose()?;

    let mut used: Vec<usize> = vec![x];
    used.extend(y);
    used.extend(color);
    used.dedup();
    let values = rows_json(schema, batches, &used, MAX_CHART_ROWS);
    let shown = batches
        .iter()
        .map(RecordBatch::num_rows)
        .sum::<usize>()
        .min(MAX_CHART_ROWS);

    let enc = |i: usize| -> String {
        format!(
            "{{\"field\":{},\"type\":\"{}\"",
            json_string(names[i]),
            vl_type(schema.field(i).data_type())
        )
    };
    let mut encoding = Vec::new();
    match spec.kind {
        ChartKind::Histogram => {
            encoding.push(format!("\"x\":{},\"bin\":{{\"maxbins\":30}}}}", enc(x)));
            encoding.push(
                "\"y\":{\"aggregate\":\"count\",\"type\":\"quantitative\",\"title\":\"count\"}"
                    .into(),
            );
        }
        _ => {
            let mut xe = enc(x);
            if spec.kind == ChartKind::Bar && vl_type(schema.field(x).data_type()) == "nominal" {
                // Keep the query's order (ORDER BY) instead of sorting bars alphabetically.
                xe.push_str(",\"sort\":null");
            }
            encoding.push(format!("\"x\":{xe}}}"));
            if let Some(y) = y {
                encoding.push(format!("\"y\":{}}}", enc(y)));
            }
        }
    }
    if let Some(c) = color {
        encoding.push(format!(
            "\"color\":{{\"field\":{},\"type\":\"nominal\"}}",
            json_string(names[c])
        ));
    }
    let tooltip: Vec<String> = used.iter().map(|&i| format!("{}}}", enc(i))).collect();
    if spec.kind != ChartKind::Histogram {
        encoding.push(format!("\"tooltip\":[{}]", tooltip.join(",")));
    }
    let mut title = spec.title.clone().unwrap_or_default();
    if total_rows > shown {
        let note = format!("first {shown} of {total_rows} rows");
        title = if title.is_empty() {
            note
        } else {
            format!("{title} ({note})")
        };
    }
    let mark = match spec.kind {
        ChartKind::Line => "{\"type\":\"line\",\"point\":true,\"tooltip\":true}".to_string(),
        k => format!("{{\"type\":\"{}\",\"tooltip\":true}}", k.mark()),
    };
    let mut out = String::with_capacity(values.len() + 512);
    out.push_str("{\"$schema\":\"https://vega.github.io/schema/vega-lite/v5.json\"");
    if !title.is_empty() {
        out.push_str(&format!(",\"title\":{}", json_string(&title)));
    }
    // A fixed size: `"container"` makes some front ends resize in a loop.
    out.push_str(",\"width\":480,\"height\":300");
    out.push_str(&format!(",\"mark\":{mark}"));
    out.push_str(&format!(",\"encoding\":{{{}}}", encoding.join(",")));
    out.push_str(&format!(",\"data\":{{\"values\":{values}}}}}"));
    Ok(out)
}

fn is_numeric(dt: &DataType) -> bool {
    dt.is_numeric()
}

fn vl_type(dt: &DataType) -> &'static str {
    match dt {
        d if d.is_numeric() => "quantitative",
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) => "temporal",
        _ => "nominal",
    }
}

/// The chosen columns of the first `limit` rows as a JSON array of objects.
fn rows_json(schema: &SchemaRef, batches: &[RecordBatch], cols: &[usize], limit: usize) -> String {
    let opts = FormatOptions::default()
        .with_null("")
        .with_timestamp_format(Some("%Y-%m-%dT%H:%M:%S%.f"))
        .with_timestamp_tz_format(Some("%Y-%m-%dT%H:%M:%S%.f%:z"));
    let mut out = String::from("[");
    let mut n = 0;
    'batches: for b in batches {
        let formatters: Vec<Option<ArrayFormatter<'_>>> = cols
            .iter()
            .map(|&c| ArrayFormatter::try_new(b.column(c).as_ref(), &opts).ok())
            .collect();
        for row in 0..b.num_rows() {
            if n == limit {
                break 'batches;
            }
            if n > 0 {
                out.push(',');
            }
            out.push('{');
            for (k, &c) in cols.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(schema.field(c).name()));
                out.push(':');
                let arr = b.column(c);
                if arr.is_null(row) {
                    out.push_str("null");
                    continue;
                }
                let text = formatters[k]
                    .as_ref()
                    .map(|f| f.value(row).to_string())
                    .unwrap_or_default();
                let numeric =
                    arr.data_type().is_numeric() && text.parse::<f64>().is_ok_and(f64::is_finite);
                if numeric {
                    out.push_str(&text);
                } else {
                    out.push_str(&json_string(&text));
                }
            }
            out.push('}');
            n += 1;
        }
    }
    out.push(']');
    out
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            // Keep `</script>` and friends inert when a front end inlines the spec in HTML.
            '<' => out.push_str("\\u003c"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    fn data() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("event_type", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
            Field::new("avg", DataType::Float64, true),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![
                    Some("view"),
                    Some("buy \"now\""),
                    None,
                ])),
                Arc::new(Int64Array::from(vec![10, 3, 1])),
                Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::NAN)])),
            ],
        )
        .unwrap();
        (schema, vec![b])
    }

    fn spec(kind: ChartKind) -> ChartSpec {
        ChartSpec {
            kind,
            x: None,
            y: None,
            color: None,
            title: None,
        }
    }

    #[test]
    fn bar_chart_is_valid_vega_lite_with_inline_rows() {
        let (schema, batches) = data();
        let out = render_chart(&schema, &batches, 3, &spec(ChartKind::Bar)).unwrap();
        assert!(out.starts_with("{\"$schema\":\"https://vega.github.io/schema/vega-lite/v5.json\""));
        assert!(out.contains("\"mark\":{\"type\":\"bar\""), "{out}");
        assert!(
            out.contains("\"x\":{\"field\":\"event_type\",\"type\":\"nominal\",\"sort\":null}"),
            "{out}"
        );
        assert!(
            out.contains("\"y\":{\"field\":\"n\",\"type\":\"quantitative\"}"),
            "{out}"
        );
        assert!(
            out.contains("{\"event_type\":\"buy \\\"now\\\"\",\"n\":3}"),
            "{out}"
        );
        assert!(out.contains("{\"event_type\":null,\"n\":1}"), "{out}");
    }

    #[test]
    fn named_columns_histogram_and_truncation_note() {
        let (schema, batches) = data();
        let mut s = spec(ChartKind::Scatter);
        s.x = Some("n".into());
        s.y = Some("AVG".into());
        s.color = Some("event_type".into());
        let out = render_chart(&schema, &batches, 30_000, &s).unwrap();
        assert!(out.contains("\"title\":\"first 3 of 30000 rows\""), "{out}");
        assert!(out.contains("\"color\":{\"field\":\"event_type\""), "{out}");
        // NaN is not JSON: it goes in as a string, never as a bare token.
        assert!(out.contains("\"avg\":\"NaN\""), "{out}");
        let mut h = spec(ChartKind::Histogram);
        h.x = Some("n".into());
        let out = render_chart(&schema, &batches, 3, &h).unwrap();
        assert!(out.contains("\"bin\":{\"maxbins\":30}"), "{out}");
        assert!(out.contains("\"aggregate\":\"count\""), "{out}");
    }

    #[test]
    fn missing_columns_name_the_columns_there_are() {
        let (schema, batches) = data();
        let mut s = spec(ChartKind::Bar);
        s.y = Some("total".into());
        let e = render_chart(&schema, &batches, 3, &s).unwrap_err();
        assert!(
            e.contains("no column 'total'") && e.contains("event_type, n, avg"),
            "{e}"
        );
        let mut h = spec(ChartKind::Histogram);
        h.x = Some("event_type".into());
        assert!(render_chart(&schema, &batches, 3, &h)
            .unwrap_err()
            .contains("numeric"));
    }
}
