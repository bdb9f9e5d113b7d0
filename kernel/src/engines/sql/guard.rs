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

#[cfg(test)]
use lakehouse_grammar::guard::parse;

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
