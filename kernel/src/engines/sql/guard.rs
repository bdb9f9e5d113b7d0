//! `IF <condition> THEN <statement>`: runs the statement only when the condition is true,
//! so a parameterized notebook can switch steps on and off (`IF $enable_cleanup THEN DROP
//! TABLE …`) the way the PySpark notebooks it replaces use `if enable_cleanup:`.
//!
//! The condition is evaluated like `SET`'s and `ASSERT`'s (parameters bound, subqueries
//! allowed); it must be a boolean. A false or NULL condition skips the statement and says so.

use tokio::sync::mpsc::UnboundedSender;

use super::errors;
use super::split::Piece;
use super::{Output, SqlEngine};
use crate::error::{CellError, ErrorKind};

/// `(condition, statement)` of an `IF … THEN …` statement; `None` for anything else.
pub(super) fn parse(text: &str) -> Option<Result<(String, String), CellError>> {
    read(text).map(|r| r.map_err(|m| ErrorKind::Syntax.error(m)))
}

/// [`parse`] with the message of a malformed statement as text.
fn read(text: &str) -> Option<Result<(String, String), String>> {
    let t = text.trim();
    let head = t.get(..2)?;
    if !head.eq_ignore_ascii_case("IF") || !t[2..].starts_with(char::is_whitespace) {
        return None;
    }
    let body = &t[2..];
    match find_then(body) {
        Some(at) => {
            let cond = body[..at].trim();
            let stmt = body[at + 4..].trim();
            if cond.is_empty() || stmt.is_empty() {
                return Some(Err(usage()));
            }
            Some(Ok((cond.to_string(), stmt.to_string())))
        }
        None => Some(Err(usage())),
    }
}

fn usage() -> String {
    "IF needs a condition and a statement: IF $enable_cleanup THEN DROP TABLE IF EXISTS demo.events"
        .into()
}

/// Byte offset of the first `THEN` outside quotes, parentheses and CASE … END.
fn find_then(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let (mut depth, mut cases) = (0i32, 0i32);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' | b'`' => {
                i += 1;
                while i < b.len() && b[i] != c {
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => depth -= 1,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$')
                {
                    i += 1;
                }
                let word = s[start..i].to_ascii_uppercase();
                let before = start.checked_sub(1).map(|p| b[p]);
                if before == Some(b'$') || before == Some(b'.') {
                    continue;
                }
                match word.as_str() {
                    "CASE" => cases += 1,
                    "END" if cases > 0 => cases -= 1,
                    "THEN" if depth == 0 && cases == 0 => return Some(start),
                    _ => {}
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

impl SqlEngine {
    /// Evaluates the condition, then runs `statement` (as a statement of the cell) or skips it.
    pub(super) async fn run_guarded(
        &self,
        cell: &str,
        piece: &Piece,
        condition: &str,
        statement: &str,
        out: &UnboundedSender<Output>,
        keep: usize,
    ) -> Result<(), CellError> {
        use datafusion::scalar::ScalarValue;
        self.catalog.next_statement();
        match self.eval_scalar(condition, "IF", cell, piece).await? {
            ScalarValue::Boolean(Some(true)) => {
                let inner = Piece {
                    text: statement.to_string(),
                    ..piece.clone()
                };
                Box::pin(self.execute_piece(cell, &inner, out, keep)).await
            }
            ScalarValue::Boolean(_) => {
                let _ = out.send(Output::Message(format!(
                    "Skipped ({condition} is not true): {}",
                    statement.split_whitespace().collect::<Vec<_>>().join(" ")
                )));
                Ok(())
            }
            other => Err(CellError::new(
                ErrorKind::Type,
                format!(
                    "IF needs a true/false condition; {condition} is {other} ({})",
                    other.data_type()
                ),
            )
            .with_context(errors::statement_context(piece))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn splits_at_the_top_level_then() {
        assert_eq!(
            parse("IF $x THEN DROP TABLE t").unwrap().unwrap(),
            ("$x".to_string(), "DROP TABLE t".to_string())
        );
        assert_eq!(
            parse("if CASE WHEN a THEN b END = 'then' then SELECT 1")
                .unwrap()
                .unwrap(),
            (
                "CASE WHEN a THEN b END = 'then'".to_string(),
                "SELECT 1".to_string()
            )
        );
        assert!(parse("IF $x").unwrap().is_err());
        assert!(parse("IFNULL(a, b)").is_none());
        assert!(parse("DROP TABLE IF EXISTS t").is_none());
    }
}
