//! `text/html`: a scrollable, escaped table with a scoped `lh-` stylesheet.

use crate::grid::{Cell, Grid};

/// The stylesheet, scoped under `.lh-result` so it cannot restyle anything else on the page.
/// Selectors are two classes deep to win over JupyterLab's `.jp-RenderedHTMLCommon` table rules
/// (which would otherwise right-align everything and fix the table layout).
pub(crate) const STYLE: &str = "<style>\
.lh-result{margin:0;padding:0}\
.lh-result table.lh-table{border-collapse:collapse;border-spacing:0;border:none;margin:0;\
table-layout:auto;font-variant-numeric:tabular-nums}\
.lh-result .lh-table th,.lh-result .lh-table td{padding:2px 10px;white-space:nowrap;\
text-align:left;vertical-align:top;max-width:none;\
border-bottom:1px solid var(--jp-border-color2,#e0e0e0)}\
.lh-result .lh-table th{position:sticky;top:0;z-index:1;font-weight:600;\
background:var(--jp-layout-color1,#fff);border-bottom:1px solid var(--jp-border-color1,#bdbdbd)}\
.lh-result .lh-table tbody tr:hover{background:var(--jp-layout-color2,#eee)}\
.lh-result .lh-table .lh-num{text-align:right}\
.lh-result .lh-type{font-weight:normal;font-size:0.8em;color:var(--jp-ui-font-color2,#757575)}\
.lh-result .lh-null{font-style:italic;color:var(--jp-ui-font-color3,#9e9e9e)}\
.lh-result .lh-foot{margin-top:4px;font-size:0.85em;color:var(--jp-ui-font-color2,#757575)}\
.lh-result .lh-msg{margin:0;white-space:pre-wrap}\
</style>";

/// Appends `s` to `out` with `& < > " '` escaped, safe in element text and quoted attributes.
pub(crate) fn escape_into(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// Appends `s` to `out` with only `& < >` escaped: enough for element text (not attributes).
/// The progress line has always been escaped this way; kept so its bytes do not change.
pub(crate) fn escape_text_into(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// Renders the grid and the muted footer line (`notice`, then the caller's footer).
pub(crate) fn render(grid: &Grid, notice: &str, footer: Option<&str>) -> String {
    let mut out = String::with_capacity(1024 + grid.rows.len() * grid.columns.len() * 32);
    out.push_str("<div class=\"lh-result\">");
    out.push_str(STYLE);
    if !grid.columns.is_empty() {
        out.push_str(
            "<div class=\"lh-scroll\" style=\"overflow-x:auto; overflow-y:auto; max-height:40em\">\
             <table class=\"lh-table\"><thead><tr>",
        );
        for col in &grid.columns {
            out.push_str(if col.numeric {
                "<th class=\"lh-num\">"
            } else {
                "<th>"
            });
            out.push_str("<div class=\"lh-name\">");
            escape_into(&mut out, &col.name);
            out.push_str("</div><div class=\"lh-type\">");
            escape_into(&mut out, &col.type_name);
            out.push_str("</div></th>");
        }
        out.push_str("</tr></thead><tbody>");
        for row in &grid.rows {
            out.push_str("<tr>");
            for (cell, col) in row.iter().zip(&grid.columns) {
                out.push_str(if col.numeric {
                    "<td class=\"lh-num\""
                } else {
                    "<td"
                });
                match cell {
                    Cell::Null => out.push_str("><span class=\"lh-null\">null</span>"),
                    Cell::Value { shown, full } => {
                        if let Some(full) = full {
                            out.push_str(" title=\"");
                            escape_into(&mut out, full);
                            out.push('"');
                        }
                        out.push('>');
                        escape_into(&mut out, shown);
                    }
                }
                out.push_str("</td>");
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
    }
    foot_into(&mut out, notice, footer);
    out.push_str("</div>");
    out
}

/// Appends the muted line under a table or message: `a · b`, skipping empty parts.
pub(crate) fn foot_into(out: &mut String, notice: &str, footer: Option<&str>) {
    let parts: Vec<&str> = [Some(notice), footer]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return;
    }
    out.push_str("<div class=\"lh-foot\">");
    escape_into(out, &parts.join(" · "));
    out.push_str("</div>");
}
