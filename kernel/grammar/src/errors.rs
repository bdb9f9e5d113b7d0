//! Syntax errors as a notebook user reads them: a short message, the line and column in the
//! cell, and a caret under the spot.

use datafusion_common::DataFusionError;

use crate::error::{CellError, ErrorKind};
use crate::split::{self, Open, Piece};

/// The cell ends inside a string, comment or parenthesis.
pub fn unterminated(cell: &str, open: Open) -> CellError {
    let what = match open {
        Open::Quote('\'') => "a string literal is not closed: add the closing '",
        Open::Quote('"') => "a quoted identifier is not closed: add the closing \"",
        Open::Quote(_) => "a quoted identifier is not closed: add the closing `",
        Open::BlockComment => "a /* comment is not closed: add */",
        Open::Paren => "a parenthesis is not closed: add the missing )",
    };
    let last = cell.lines().count().max(1);
    CellError::new(ErrorKind::Syntax, what).with_context(split::caret(
        cell,
        last,
        cell.lines().last().map_or(1, |l| l.chars().count() + 1),
    ))
}

/// A parse error, shown with the offending line and a caret.
pub fn syntax(e: DataFusionError, cell: &str, piece: &Piece) -> CellError {
    let msg = strip_prefixes(&e.strip_backtrace());
    let mut err = CellError::new(ErrorKind::Syntax, short(&msg));
    if let Some((l, c)) = split::error_location(&msg) {
        let (line, col) = split::cell_location(piece, l, c);
        err.evalue = format!("{} (line {line}, column {col})", short(&msg));
        err.traceback = vec![format!("SyntaxError: {}", err.evalue)];
        err = err.with_context(split::caret(cell, line, col));
    }
    err
}

/// The first line of the statement, for the traceback.
pub fn statement_context(piece: &Piece) -> Vec<String> {
    let first = piece.text.lines().next().unwrap_or("");
    let more = if piece.text.lines().nth(1).is_some() {
        " …"
    } else {
        ""
    };
    vec![format!(
        "  in statement at line {}: {first}{more}",
        piece.line
    )]
}

/// A DataFusion error as one readable line, without its layered prefixes.
pub fn plain(e: &DataFusionError) -> String {
    strip_prefixes(&e.to_string())
}

/// Removes DataFusion's layered "Error during planning: " style prefixes and keeps one line.
pub fn strip_prefixes(msg: &str) -> String {
    let mut m = msg.trim();
    for p in [
        "Error during planning: ",
        "SQL error: ",
        "ParserError(\"",
        "Execution error: ",
        "External error: ",
        "Schema error: ",
        "This feature is not implemented: ",
        "sql parser error: ",
        "Optimizer rule",
    ] {
        while let Some(rest) = m.strip_prefix(p) {
            m = rest;
        }
    }
    m.trim_end_matches("\")").to_string()
}

/// The message without the parser's location suffix.
pub fn short(msg: &str) -> String {
    match msg.rfind(" at Line: ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
