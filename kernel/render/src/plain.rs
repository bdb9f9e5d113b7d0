//! `text/plain`: a bordered table in the style of arrow's pretty printer and datafusion-cli.

use unicode_width::UnicodeWidthStr;

use crate::grid::{Cell, Grid};

const NULL: &str = "NULL";

/// Renders the grid, then the caller's footer (if any), then the row notice as the last line.
pub(crate) fn render(grid: &Grid, notice: &str, footer: Option<&str>) -> String {
    let mut out = String::new();
    if !grid.columns.is_empty() {
        // Header names may contain newlines or tabs too; keep the table rectangular.
        let names: Vec<String> = grid.columns.iter().map(|c| visible(&c.name)).collect();
        let mut widths: Vec<usize> = names.iter().map(|n| n.width()).collect();
        for row in &grid.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(text(cell).width());
            }
        }
        let border = border(&widths);
        out.push_str(&border);
        let header = names.iter().zip(&grid.columns);
        line_into(
            &mut out,
            &widths,
            header.map(|(n, c)| (n.as_str(), c.numeric)),
        );
        out.push_str(&border);
        for row in &grid.rows {
            let cells = row
                .iter()
                .zip(&grid.columns)
                .map(|(cell, col)| (text(cell), col.numeric));
            line_into(&mut out, &widths, cells);
        }
        if !grid.rows.is_empty() {
            out.push_str(&border);
        }
    }
    if let Some(footer) = footer.filter(|f| !f.is_empty()) {
        out.push_str(footer);
        out.push('\n');
    }
    out.push_str(notice);
    out
}

fn text(cell: &Cell) -> &str {
    match cell {
        Cell::Null => NULL,
        Cell::Value { shown, .. } => shown,
    }
}

fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

fn border(widths: &[usize]) -> String {
    let mut s = String::from("+");
    for w in widths {
        s.extend(std::iter::repeat_n('-', w + 2));
        s.push('+');
    }
    s.push('\n');
    s
}

/// One `| a | b |` line; `right` cells are padded on the left. Widths are display columns.
fn line_into<'a>(out: &mut String, widths: &[usize], cells: impl Iterator<Item = (&'a str, bool)>) {
    out.push('|');
    for (w, (s, right)) in widths.iter().zip(cells) {
        let pad = w.saturating_sub(s.width());
        out.push(' ');
        if right {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(s);
        } else {
            out.push_str(s);
            out.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(" |");
    }
    out.push('\n');
}
