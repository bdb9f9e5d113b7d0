//! Splits a cell into statements at top-level `;`, aware of quotes and comments.
//!
//! Each piece keeps where it starts in the cell, so an error reported by the parser
//! relative to one statement can be shown at the right line of the cell.

use datafusion_sql::sqlparser::tokenizer::Location;

/// One statement of a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The statement text, without its terminating `;`.
    pub text: String,
    /// 1-based line in the cell where the text starts.
    pub line: usize,
    /// 1-based column (in characters) where the text starts.
    pub column: usize,
}

/// What is still open at the end of the cell, for `is_complete` and for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// An unterminated quoted string or identifier (the quote character).
    Quote(char),
    /// An unterminated `/* ... */` comment.
    BlockComment,
    /// More `(` than `)`.
    Paren,
}

/// The result of scanning a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Non-empty statements, in order.
    pub pieces: Vec<Piece>,
    /// Whether the last non-blank, non-comment character is a top-level `;`.
    pub terminated: bool,
    /// Something left open at the end, if any.
    pub open: Option<Open>,
}

/// Splits `sql` into statements.
pub fn split(sql: &str) -> Split {
    let chars: Vec<char> = sql.chars().collect();
    let mut pieces = Vec::new();
    let mut cur = String::new();
    let (mut line, mut col) = (1usize, 1usize);
    let mut start: Option<(usize, usize)> = None;
    let mut depth: i64 = 0;
    let mut open = None;
    let mut terminated = false;
    let mut i = 0;

    // Advances over chars[i], tracking the position, and appends it to `cur`.
    macro_rules! take {
        () => {{
            let c = chars[i];
            cur.push(c);
            if c == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
            i += 1;
        }};
    }

    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            take!();
            continue;
        }
        if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                take!();
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut nest = 0;
            let mut closed = false;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    nest += 1;
                    take!();
                    take!();
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    nest -= 1;
                    take!();
                    take!();
                    if nest == 0 {
                        closed = true;
                        break;
                    }
                } else {
                    take!();
                }
            }
            if !closed {
                open = Some(Open::BlockComment);
            }
            continue;
        }
        if c == ';' && depth <= 0 {
            if let Some((l, c0)) = start.take() {
                pieces.push(Piece {
                    text: std::mem::take(&mut cur).trim_end().to_string(),
                    line: l,
                    column: c0,
                });
            }
            cur.clear();
            depth = 0;
            col += 1;
            i += 1;
            terminated = true;
            continue;
        }
        terminated = false;
        if start.is_none() {
            // Drop leading blanks and comments of the statement.
            cur.clear();
            start = Some((line, col));
        }
        match c {
            '\'' | '"' | '`' => {
                take!();
                let mut closed = false;
                while i < chars.len() {
                    if chars[i] == c {
                        // A doubled quote is an escaped quote inside the literal.
                        if chars.get(i + 1) == Some(&c) {
                            take!();
                            take!();
                            continue;
                        }
                        take!();
                        closed = true;
                        break;
                    }
                    take!();
                }
                if !closed {
                    open = Some(Open::Quote(c));
                }
            }
            '(' => {
                depth += 1;
                take!();
            }
            ')' => {
                depth -= 1;
                take!();
            }
            _ => take!(),
        }
    }
    if let Some((l, c0)) = start {
        let text = cur.trim_end().to_string();
        if !text.is_empty() {
            pieces.push(Piece {
                text,
                line: l,
                column: c0,
            });
        }
    }
    if open.is_none() && depth > 0 {
        open = Some(Open::Paren);
    }
    Split {
        pieces,
        terminated,
        open,
    }
}

/// Finds the parser's "Line: L, Column: C" in an error message.
pub fn error_location(message: &str) -> Option<(usize, usize)> {
    let at = message.rfind("Line: ")?;
    let rest = &message[at + 6..];
    let (l, rest) = rest.split_once(", Column: ")?;
    let c: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((l.trim().parse().ok()?, c.parse().ok()?))
}

/// Maps a location inside `piece` to a location in the whole cell.
pub fn cell_location(piece: &Piece, line: usize, column: usize) -> (usize, usize) {
    if line <= 1 {
        (piece.line, piece.column + column.saturating_sub(1))
    } else {
        (piece.line + line - 1, column)
    }
}

/// The cell's line `line` followed by a caret under `column` (both 1-based).
pub fn caret(cell: &str, line: usize, column: usize) -> Vec<String> {
    let Some(text) = cell.lines().nth(line.saturating_sub(1)) else {
        return vec![];
    };
    let pad: String = text
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    vec![format!("{line:>4} | {text}"), format!("     | {pad}^")]
}

/// `text` with the spans between sqlparser token locations (start inclusive, end exclusive,
/// in order and not overlapping) replaced. Rewrites splice the original text rather than
/// print tokens again, which would lose how quotes were escaped.
pub fn splice(text: &str, edits: &[(Location, Location, &str)]) -> String {
    let offsets = LineOffsets::new(text);
    let mut out = String::with_capacity(text.len() + 32);
    let mut pos = 0;
    for (start, end, replacement) in edits {
        out.push_str(&text[pos..offsets.at(*start)]);
        out.push_str(replacement);
        pos = offsets.at(*end);
    }
    out.push_str(&text[pos..]);
    out
}

/// Maps sqlparser's 1-based (line, column in characters) to byte offsets.
struct LineOffsets<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineOffsets<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineOffsets { text, starts }
    }

    fn at(&self, loc: Location) -> usize {
        let line = (loc.line.max(1) - 1) as usize;
        let Some(&start) = self.starts.get(line) else {
            return self.text.len();
        };
        let col = (loc.column.max(1) - 1) as usize;
        self.text[start..]
            .char_indices()
            .nth(col)
            .map_or(self.text.len(), |(i, _)| start + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<String> {
        split(sql).pieces.into_iter().map(|p| p.text).collect()
    }

    #[test]
    fn splits_on_top_level_semicolons_only() {
        assert_eq!(
            texts("SELECT 1; SELECT ';' AS x;\nSELECT \"a;b\" FROM t -- c;\n;"),
            vec!["SELECT 1", "SELECT ';' AS x", "SELECT \"a;b\" FROM t -- c;"]
        );
    }

    #[test]
    fn empty_and_comment_only_cells_have_no_statements() {
        assert!(texts("").is_empty());
        assert!(texts("  \n\t ").is_empty());
        assert!(texts(";").is_empty());
        assert!(texts(";;  ;").is_empty());
        assert!(texts("-- just a note\n/* and this */").is_empty());
    }

    #[test]
    fn positions_are_cell_relative() {
        let s = split("SELECT 1;\n\n  SELECT x\n  FROM t");
        assert_eq!(s.pieces[1].line, 3);
        assert_eq!(s.pieces[1].column, 3);
        assert_eq!(cell_location(&s.pieces[1], 2, 8), (4, 8));
        assert_eq!(cell_location(&s.pieces[1], 1, 8), (3, 10));
    }

    #[test]
    fn open_constructs_are_reported() {
        assert_eq!(split("SELECT 'abc").open, Some(Open::Quote('\'')));
        assert_eq!(split("SELECT (1 + 2").open, Some(Open::Paren));
        assert_eq!(split("SELECT 1 /* x").open, Some(Open::BlockComment));
        assert_eq!(split("SELECT 'it''s';").open, None);
        assert!(split("SELECT 1;").terminated);
        assert!(split("SELECT 1; -- done").terminated);
        assert!(!split("SELECT 1").terminated);
    }

    #[test]
    fn semicolon_inside_parens_does_not_split() {
        assert_eq!(texts("SELECT (1;2)").len(), 1);
    }

    #[test]
    fn parser_locations_are_found_and_drawn() {
        let msg = "sql parser error: Expected: end of statement, found: FROM at Line: 2, Column: 3";
        assert_eq!(error_location(msg), Some((2, 3)));
        assert_eq!(
            caret("SELECT 1\nX FROM y", 2, 3),
            vec!["   2 | X FROM y".to_string(), "     |   ^".to_string()]
        );
    }

    #[test]
    fn unicode_is_counted_in_chars() {
        let s = split("SELECT 'é'; SELECT 2");
        assert_eq!(s.pieces[1].column, 13);
    }
}
